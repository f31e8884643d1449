import { Ajv, type ErrorObject, type Options, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';

/** The `$schema` dialects the kit compiles; a schema without `$schema` is read as 2020-12 (zod 4's and pydantic 2's). */
const DIALECTS = {
  'https://json-schema.org/draft/2020-12/schema': Ajv2020,
  'https://json-schema.org/draft/2019-09/schema': Ajv2019,
  'http://json-schema.org/draft-07/schema': Ajv,
} as const;

// Unknown keywords are annotations (an environment may add its own); formats are not checked,
// so that a schema is never refused for a format the kit does not know.
const AJV_OPTIONS: Options = { strict: false, allErrors: true, validateFormats: false };

/** A compiled JSON Schema: `check(value)` answers null when `value` conforms, else what is wrong. */
export interface SchemaCheck {
  check(value: unknown): string | null;
}

/**
 * Compile one JSON Schema as served by `/schema`.
 * @returns the compiled check, or why it does not compile (an unsupported `$schema`, a bad keyword, a dangling `$ref`)
 */
export function compileSchema(schema: unknown): SchemaCheck | string {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return `expected a JSON Schema object, received ${JSON.stringify(schema)?.slice(0, 100)}`;
  const declared = (schema as { $schema?: unknown }).$schema;
  const dialect = declared === undefined ? '' : String(declared).replace(/#$/, '');
  const Dialect = dialect === '' ? Ajv2020 : DIALECTS[dialect as keyof typeof DIALECTS];
  if (Dialect === undefined) return `unsupported $schema ${JSON.stringify(declared)}; expected one of ${Object.keys(DIALECTS).join(', ')}`;
  let validate: ValidateFunction;
  try {
    validate = new Dialect(AJV_OPTIONS).compile(schema);
  } catch (error) {
    return `does not compile: ${error instanceof Error ? error.message : String(error)}`;
  }
  return {
    check(value) {
      return validate(value) ? null : describeErrors(validate.errors ?? []);
    },
  };
}

/** ajv's errors as one line: each instance path with its message, e.g. `/exit_code must be integer`. */
function describeErrors(errors: readonly ErrorObject[]): string {
  return errors
    .slice(0, 5)
    .map((error) => {
      const extra = error.keyword === 'additionalProperties' ? ` (${JSON.stringify((error.params as { additionalProperty?: string }).additionalProperty)})` : '';
      return `${error.instancePath === '' ? '(root)' : error.instancePath} ${error.message ?? error.keyword}${extra}`;
    })
    .join('; ');
}
