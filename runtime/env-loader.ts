import { readFile, stat } from 'node:fs/promises';
import { dirname, extname, isAbsolute, join, resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { exports as packageExports, legacy as packageMain } from 'resolve.exports';
import { z } from 'zod';
import type { AnyEnvDefinition, EnvFactory } from '../protocol/index.js';
import { ConfigError, envOptionSpecs, SERVE_OPTIONS } from './config.js';

/**
 * `INVALID_CONFIG` for an environment `--env` names that cannot be served: it does not exist,
 * does not load, or does not export a definition. The message is one line naming the module and
 * what is missing or wrong (`envbox serve` prints it and exits 2).
 */
export class EnvLoadError extends ConfigError {}

/** {@link EnvLoadError} for a name that is no installed package and no path either (`reason` says where it looked). */
export class EnvNotFoundError extends EnvLoadError {
  constructor(
    readonly spec: string,
    readonly reason: string,
  ) {
    super(`cannot load --env ${spec}: it is not a built-in environment, ${reason}`);
  }
}

/** An environment loaded from outside envbox: what `--env` named, the module read, the factory it gives. */
export interface LoadedEnvironment {
  /** What `--env` said, e.g. `.` or `blackjack`. */
  spec: string;
  /** The module file imported. */
  file: string;
  /** The default export as a factory (a bare definition becomes a factory without options). */
  factory: EnvFactory;
}

/** Flags a loaded environment's options may not take: the server's own, and the CLI's. */
const RESERVED_FLAGS: ReadonlySet<string> = new Set([...SERVE_OPTIONS.map((option) => option.flag), 'help', 'version']);

/** Does `spec` name a file system path rather than a package (`.`, `./x`, `/x`, `C:\x`)? */
export function isPathSpec(spec: string): boolean {
  return spec === '.' || spec === '..' || spec.startsWith('./') || spec.startsWith('../') || isAbsolute(spec);
}

/**
 * Load the environment `spec` names: a path (`.`, `./dist/index.js`, `/srv/env`) to a module or a
 * package directory, or the name of a package installed under `cwd` (found the way Node finds it:
 * `node_modules/<name>` in `cwd` or a parent), or, failing that, a directory `cwd/<spec>`. A
 * package's entry is its `exports` (conditions `node`, `import`, `default`) or `main`. The module's
 * default export must be an {@link EnvDefinition} or an {@link EnvFactory} (`{ options?, create }`);
 * its options must be described with `envOption` and must not take a flag of the server.
 * @throws {EnvLoadError} one line naming the module and what is missing or wrong
 */
export async function loadEnvironment(spec: string, cwd: string): Promise<LoadedEnvironment> {
  const file = await locate(spec, cwd);
  if (extname(file) === '.ts' || extname(file) === '.mts' || extname(file) === '.cts') {
    throw new EnvLoadError(`cannot load --env ${spec}: ${file} is TypeScript; build the package first (npm run build) and serve the built JavaScript`);
  }
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    // A package the module imports is not installed: the usual cause is a package not installed yet.
    const hint = /^Cannot find package /.test(oneLine(error)) ? '; run npm install in the package first' : '';
    throw new EnvLoadError(`cannot load --env ${spec}: ${file} threw while loading: ${oneLine(error)}${hint}`);
  }
  if (!('default' in module) || module.default === undefined) {
    throw new EnvLoadError(`cannot load --env ${spec}: ${file} has no default export; export default an environment definition (or a factory { options?, create })`);
  }
  const factory = asFactory(module.default, `the default export of ${file}`);
  return { spec, file, factory };
}

/**
 * Check what a loaded factory built against the definition contract (the factory may be wrong
 * where its export looked right).
 * @throws {EnvLoadError} naming the field that is missing or wrong
 */
export function checkDefinition(definition: unknown, what: string): AnyEnvDefinition {
  const parsed = EnvDefinitionShape.safeParse(definition);
  if (!parsed.success) throw new EnvLoadError(`${what} is not an environment definition: ${describeIssue(parsed.error.issues[0]!, definition)}`);
  return definition as AnyEnvDefinition;
}

/** The default export as a factory: a definition is wrapped, a factory is checked. */
function asFactory(value: unknown, what: string): EnvFactory {
  if (isRecord(value) && 'action' in value) {
    const definition = checkDefinition(value, what);
    return { create: () => definition };
  }
  const parsed = EnvFactoryShape.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const looksLikeFactory = isRecord(value) && typeof value.create === 'function';
    throw new EnvLoadError(
      looksLikeFactory
        ? `${what} is not an environment factory: ${describeIssue(issue, value)}`
        : `${what} is not an environment definition (name, description, version, action, observation, state, create) or factory ({ options?, create }): ${describeIssue(issue, value)}`,
    );
  }
  const factory = value as EnvFactory;
  if (factory.options !== undefined) {
    let flags: string[];
    try {
      flags = envOptionSpecs(factory.options).map((option) => option.flag);
    } catch (error) {
      throw new EnvLoadError(`${what} declares options badly: ${oneLine(error)} Wrap each field in envOption(schema, { help, expected }).`);
    }
    const clash = flags.find((flag) => RESERVED_FLAGS.has(flag));
    if (clash !== undefined) throw new EnvLoadError(`${what} declares option --${clash}, which is an option of the server; rename it`);
  }
  const create = factory.create.bind(factory);
  const source = what.replace(/^the default export of /, '');
  return {
    ...(factory.options === undefined ? {} : { options: factory.options }),
    async create(options, context) {
      let made: unknown;
      try {
        made = await create(options, context);
      } catch (error) {
        throw new EnvLoadError(`the factory of ${source} threw: ${oneLine(error)}`);
      }
      return checkDefinition(made, `what the factory of ${source} created`);
    },
  };
}

/** A zod schema, of this copy of zod or another: what the server calls on one. */
const zodSchema = z.custom<z.ZodType>((value) => isRecord(value) && typeof value.safeParse === 'function' && '_zod' in value, { message: 'a zod schema' });
const fn = z.custom<(...args: never[]) => unknown>((value) => typeof value === 'function', { message: 'a function' });

/** The contract of {@link EnvDefinition}, as checked on what a module exports. */
const EnvDefinitionShape = z.looseObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a name of letters, digits, _ . - (e.g. blackjack)'),
  description: z.string(),
  version: z.string().min(1),
  readme: z.string().optional(),
  action: zodSchema,
  observation: zodSchema,
  state: zodSchema,
  resetRequest: zodSchema.optional(),
  create: fn,
  tools: z.array(z.unknown()).optional(),
  health: fn.optional(),
  metrics: fn.optional(),
  close: fn.optional(),
});

/** The contract of {@link EnvFactory}. */
const EnvFactoryShape = z.looseObject({
  options: z.custom<z.ZodObject>((value) => isRecord(value) && isRecord(value.shape) && typeof value.safeParse === 'function', { message: 'a zod object schema (z.object)' }).optional(),
  create: fn,
});

function describeIssue(issue: z.core.$ZodIssue, value: unknown): string {
  const path = issue.path.map(String).join('.');
  if (path === '') return `expected an object, received ${typeName(value)}`;
  let received: unknown = value;
  for (const key of issue.path) received = isRecord(received) ? received[key as string] : undefined;
  const expected = issue.code === 'custom' || issue.code === 'invalid_format' ? issue.message : issue.message.replace(/^Invalid input: /, '');
  return `${received === undefined ? 'missing' : 'wrong'} ${path} (${expected}${received === undefined ? '' : `, received ${typeName(received)}`})`;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return typeof value === 'object' ? 'an object' : typeof value;
}

/** The module file `spec` names. */
async function locate(spec: string, cwd: string): Promise<string> {
  if (isPathSpec(spec)) return moduleAt(resolvePath(cwd, spec), spec);
  const installed = await findPackage(spec, cwd);
  if (installed !== undefined) return packageEntry(installed, spec);
  const local = resolvePath(cwd, spec);
  if ((await stat(local).catch(() => undefined)) !== undefined) return moduleAt(local, spec);
  throw new EnvNotFoundError(spec, `no package ${spec} is installed under ${cwd}, and no file or directory ${local} exists`);
}

/** The module at `path`: the file itself, or a directory's package entry (else its index.js). */
async function moduleAt(path: string, spec: string): Promise<string> {
  const stats = await stat(path).catch(() => undefined);
  if (stats === undefined) throw new EnvLoadError(`cannot load --env ${spec}: ${path} does not exist`);
  if (stats.isFile()) return path;
  if ((await stat(join(path, 'package.json')).catch(() => undefined)) !== undefined) return packageEntry(path, spec);
  const index = join(path, 'index.js');
  if ((await stat(index).catch(() => undefined))?.isFile() === true) return index;
  throw new EnvLoadError(`cannot load --env ${spec}: ${path} is a directory with neither a package.json nor an index.js`);
}

/** A package directory's entry module: `exports["."]` for Node's ESM conditions, else `main`, else index.js. */
async function packageEntry(dir: string, spec: string): Promise<string> {
  let manifest: Record<string, unknown>;
  try {
    manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new EnvLoadError(`cannot load --env ${spec}: ${join(dir, 'package.json')} is not valid JSON (${oneLine(error)})`);
  }
  let entry: string | undefined;
  try {
    entry = manifest.exports === undefined ? (packageMain(manifest, { browser: false }) ?? undefined) : packageExports(manifest, '.', { conditions: ['node'] })?.[0];
  } catch (error) {
    throw new EnvLoadError(`cannot load --env ${spec}: the exports of ${join(dir, 'package.json')} have no entry for import (${oneLine(error)})`);
  }
  const file = resolvePath(dir, entry ?? 'index.js');
  if ((await stat(file).catch(() => undefined))?.isFile() !== true) {
    throw new EnvLoadError(`cannot load --env ${spec}: the package's entry ${file} does not exist; build it first (npm run build)`);
  }
  return file;
}

/** Where Node would find package `name` from `cwd`: `node_modules/<name>` in `cwd` or a parent. */
async function findPackage(name: string, cwd: string): Promise<string | undefined> {
  if (!/^(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*$/i.test(name)) return undefined;
  for (let dir = resolvePath(cwd); ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if ((await stat(join(candidate, 'package.json')).catch(() => undefined)) !== undefined) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null;
}

function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]!.trim();
}
