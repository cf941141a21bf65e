import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configJsonSchema } from '../../src/config/schema.js';

type Schema = Record<string, any>;

/**
 * A tiny validator for the JSON Schema subset zod emits for this config
 * (type, const, enum, properties, required, additionalProperties, propertyNames,
 * minProperties, items, minItems, minLength, minimum, maximum, pattern, anyOf).
 * Returns the paths of the failures.
 */
function validate(schema: Schema, value: unknown, path = '$'): string[] {
  const errors: string[] = [];
  const fail = (why: string) => errors.push(`${path}: ${why}`);
  if (schema.anyOf) {
    if (!schema.anyOf.some((option: Schema) => validate(option, value, path).length === 0)) fail('anyOf');
    return errors;
  }
  if (schema.type !== undefined) {
    const types: string[] = Array.isArray(schema.type) ? schema.type : [schema.type];
    const actual = Array.isArray(value)
      ? 'array'
      : value === null
        ? 'null'
        : typeof value === 'number' && Number.isInteger(value)
          ? 'integer'
          : typeof value;
    if (!types.includes(actual) && !(actual === 'integer' && types.includes('number'))) return [`${path}: type ${actual}`];
  }
  if ('const' in schema && value !== schema.const) fail('const');
  if (schema.enum && !schema.enum.includes(value)) fail('enum');
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) fail('minLength');
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) fail('pattern');
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) fail('minimum');
    if (schema.maximum !== undefined && value > schema.maximum) fail('maximum');
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) fail('minItems');
    if (schema.items) value.forEach((item, i) => errors.push(...validate(schema.items, item, `${path}[${i}]`)));
  } else if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (schema.minProperties !== undefined && entries.length < schema.minProperties) fail('minProperties');
    for (const key of schema.required ?? []) if (!(key in value)) fail(`required ${key}`);
    for (const [key, item] of entries) {
      if (schema.propertyNames) errors.push(...validate(schema.propertyNames, key, `${path}.${key} (name)`));
      if (schema.properties?.[key]) errors.push(...validate(schema.properties[key], item, `${path}.${key}`));
      else if (schema.additionalProperties === false) fail(`additional property ${key}`);
      else if (typeof schema.additionalProperties === 'object') {
        errors.push(...validate(schema.additionalProperties, item, `${path}.${key}`));
      }
    }
  }
  return errors;
}

const KNOWN_KEYWORDS = new Set([
  '$schema', 'title', 'description', 'type', 'const', 'enum', 'properties', 'required', 'additionalProperties',
  'propertyNames', 'minProperties', 'items', 'minItems', 'minLength', 'minimum', 'maximum', 'pattern', 'anyOf',
]);

/** Every keyword in the schema, so the validator above is known to cover them all. */
function keywords(schema: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(schema)) schema.forEach((s) => keywords(s, out));
  else if (schema !== null && typeof schema === 'object') {
    for (const [key, value] of Object.entries(schema)) {
      out.add(key);
      if (key === 'properties') Object.values(value as object).forEach((s) => keywords(s, out));
      else if (key !== 'enum' && key !== 'const' && key !== 'required') keywords(value, out);
    }
  }
  return out;
}

describe('JSON Schema of supervisor.yaml', () => {
  const schema = configJsonSchema();
  const example = parse(readFileSync(new URL('../../examples/supervisor.yaml', import.meta.url), 'utf8'));

  it('is draft 2020-12, titled, and uses only keywords the test validator knows', () => {
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.title).toBe('supervisor.yaml');
    expect([...keywords(schema)].filter((k) => !KNOWN_KEYWORDS.has(k))).toEqual([]);
  });

  it('is strict and requires programs and command', () => {
    const programs = (schema.properties as Schema).programs;
    const program = programs.additionalProperties;
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(['programs']);
    expect(program.additionalProperties).toBe(false);
    expect(program.required).toEqual(['command']);
    expect(programs.minProperties).toBe(1);
    expect(programs.propertyNames.pattern).toBe('^[a-zA-Z0-9][a-zA-Z0-9_.-]*$');
    expect((schema.properties as Schema).defaults.additionalProperties).toBe(false);
    expect(program.properties.backoff.additionalProperties).toBe(false);
  });

  it('describes the fields', () => {
    const program = (schema.properties as Schema).programs.additionalProperties;
    for (const [name, field] of Object.entries(program.properties as Schema)) {
      expect(field.description, name).toMatch(/\w/);
    }
    expect(program.properties.stop_grace.description).toContain('Default: 10s.');
  });

  it('accepts the bundled example', () => {
    expect(validate(schema, example)).toEqual([]);
  });

  it('rejects an unknown key, a bad enum, a bad duration, a bad name, a missing command', () => {
    const withProgram = (patch: object) => ({ ...example, programs: { ...example.programs, web: { ...example.programs.web, ...patch } } });
    expect(validate(schema, { ...example, extra: 1 })).toEqual(['$: additional property extra']);
    expect(validate(schema, withProgram({ restat: 'always' }))).toEqual(['$.programs.web: additional property restat']);
    expect(validate(schema, withProgram({ restart: 'sometimes' }))).toEqual(['$.programs.web.restart: enum']);
    expect(validate(schema, withProgram({ stop_grace: '10 seconds' }))).toEqual(['$.programs.web.stop_grace: anyOf']);
    expect(validate(schema, { programs: { _bad: { command: 'x' } } })).toEqual(['$.programs._bad (name): pattern']);
    expect(validate(schema, { programs: { web: { cwd: '/' } } })).toEqual(['$.programs.web: required command']);
    expect(validate(schema, { programs: {} })).toEqual(['$.programs: minProperties']);
  });
});
