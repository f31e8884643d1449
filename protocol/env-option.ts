import { z } from 'zod';

/** How one option of an environment shows on `envbox serve`'s command line. */
export interface EnvOptionMeta {
  /** Its `--help` line, e.g. `sandbox of Python episodes (default pyodide)`. */
  help: string;
  /** What a valid value looks like, for error messages, e.g. `one of pyodide, process`. */
  expected: string;
}

/**
 * The metadata of every environment option, by schema: one registry per process, shared by every
 * copy of envbox loaded in it, so that an environment package that imports another copy (its
 * own install, or the built package beside the sources) still declares options `envbox serve` sees.
 */
const ENV_OPTIONS: z.core.$ZodRegistry<EnvOptionMeta> = ((globalThis as Record<symbol, unknown>)[Symbol.for('envbox.env-options')] ??= z.registry<EnvOptionMeta>()) as z.core.$ZodRegistry<EnvOptionMeta>;

/**
 * Mark `schema` (one field of an environment's option schema) as an option of `envbox serve`,
 * with its help line and what a valid value looks like.
 * @example pythonBackend: envOption(z.enum(['pyodide', 'process']).default('pyodide'), { help: 'sandbox of Python episodes', expected: 'one of pyodide, process' })
 */
export function envOption<T extends z.ZodType>(schema: T, meta: EnvOptionMeta): T {
  ENV_OPTIONS.add(schema, meta);
  return schema;
}

/** The metadata {@link envOption} attached to `schema`, if any. */
export function envOptionMeta(schema: z.ZodType): EnvOptionMeta | undefined {
  return ENV_OPTIONS.get(schema);
}
