/** A JSON Schema, as far as the kit reads one to make an action. */
type SchemaNode = Record<string, unknown>;

/** Where a sample action came from, for the report. */
export type SampleActionSource = 'given' | 'schema examples' | 'derived from the schema';

/**
 * The action the kit steps with: the one given (`--action`), else the first of the action
 * schema's `examples` (zod: `MyAction.meta({ examples: [{...}] })`), else one derived from the
 * schema (each required property: its `const`, first `enum` value, `default`, first `examples`
 * value, or the plainest value of its type). The caller checks it against the schema.
 * @returns the action and its source, or undefined when the schema is too involved to derive one
 */
export function sampleAction(actionSchema: unknown, given?: unknown): { action: unknown; source: SampleActionSource } | undefined {
  if (given !== undefined) return { action: given, source: 'given' };
  if (isNode(actionSchema) && Array.isArray(actionSchema.examples) && actionSchema.examples.length > 0) {
    return { action: actionSchema.examples[0], source: 'schema examples' };
  }
  const derived = derive(actionSchema, 0);
  return derived === undefined ? undefined : { action: derived.value, source: 'derived from the schema' };
}

function isNode(value: unknown): value is SchemaNode {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const PLAIN: Record<string, unknown> = { string: '', number: 0, integer: 0, boolean: false, null: null, array: [] };

function derive(node: unknown, depth: number): { value: unknown } | undefined {
  if (!isNode(node) || depth > 8) return undefined;
  if ('const' in node) return { value: node.const };
  if (Array.isArray(node.enum) && node.enum.length > 0) return { value: node.enum[0] };
  if ('default' in node) return { value: node.default };
  if (Array.isArray(node.examples) && node.examples.length > 0) return { value: node.examples[0] };
  for (const key of ['anyOf', 'oneOf']) {
    const options = node[key];
    if (Array.isArray(options)) {
      for (const option of options) {
        const value = derive(option, depth + 1);
        if (value !== undefined) return value;
      }
      return undefined;
    }
  }
  const types = Array.isArray(node.type) ? node.type : [node.type];
  if (types.includes('object') || isNode(node.properties)) {
    const properties = isNode(node.properties) ? node.properties : {};
    const required = Array.isArray(node.required) ? node.required.filter((key): key is string => typeof key === 'string') : [];
    const value: Record<string, unknown> = {};
    for (const key of required) {
      const property = derive(properties[key], depth + 1);
      if (property === undefined) return undefined;
      value[key] = property.value;
    }
    return { value };
  }
  for (const type of types) {
    if (typeof type === 'string' && Object.hasOwn(PLAIN, type)) {
      if ((type === 'number' || type === 'integer') && typeof node.minimum === 'number') return { value: node.minimum };
      if (type === 'string' && typeof node.minLength === 'number' && node.minLength > 0) return { value: 'x'.repeat(node.minLength) };
      return { value: PLAIN[type] };
    }
  }
  return undefined;
}

/**
 * An action that breaks the schema while still being well-formed JSON: the sample without its
 * first required property, else with a property the schema forbids, else not an object at all.
 * The caller checks that the schema refuses it.
 */
export function violatingAction(actionSchema: unknown, sample: unknown): { action: unknown; how: string } {
  const node = isNode(actionSchema) ? actionSchema : {};
  const required = Array.isArray(node.required) ? node.required.filter((key): key is string => typeof key === 'string') : [];
  if (isNode(sample) && required.length > 0) {
    const [key] = required;
    const { [key!]: _dropped, ...rest } = sample;
    return { action: rest, how: `without its required ${JSON.stringify(key)}` };
  }
  if (isNode(sample) && node.additionalProperties === false) {
    return { action: { ...sample, envbox_validate_unknown_field: true }, how: 'with a field the schema forbids' };
  }
  return { action: 'not an object', how: 'a string instead of an object' };
}
