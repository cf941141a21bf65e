// Turns zod validation issues into plain-language config problems: one per
// offending field (one per unknown key), with a path, a message that says what
// was expected and what was found, and whether to point at the key or the value.
// The classes by name from zod's core: `z.core` would bundle all of core (its
// locales and compiler among it) into the config chunk.
import { $ZodArray, $ZodDefault, $ZodNullable, $ZodObject, $ZodOptional, $ZodPipe, $ZodRecord, $ZodUnion } from 'zod/v4/core';
import type { $ZodIssue, $ZodRawIssue, $ZodType } from 'zod/v4/core';
import type { PathSegment } from './errors.js';
import type { LocateTarget } from './locate.js';
import { didYouMean } from './suggest.js';
import { showValue } from './units.js';

export interface IssueProblem {
  path: PathSegment[];
  message: string;
  target: LocateTarget;
}

type Issue = $ZodIssue;
type RawIssue = $ZodRawIssue;

/** Fields a program has but `defaults:` refuses, with the reason. */
const PROGRAM_ONLY_KEYS = new Set(['command', 'shell', 'depends_on']);

const TYPE_NAMES: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  record: 'a mapping',
};

/**
 * Messages for zod's own issues (used where the schema gives none). They say
 * what was expected; `issueToProblems` adds what was found.
 */
export function configErrorMap(issue: RawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'missing required field';
      return `expected ${TYPE_NAMES[issue.expected] ?? issue.expected}`;
    case 'invalid_value':
      return issue.values.length === 1
        ? `expected ${showValue(issue.values[0])}`
        : `expected one of ${issue.values.map(String).join(', ')}`;
    case 'too_small':
    case 'too_big': {
      const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      if (issue.origin === 'string' && issue.code === 'too_small' && bound === 1) return 'expected a non-empty string';
      if (issue.origin === 'array' && issue.code === 'too_small' && bound === 1) return 'expected a non-empty list';
      const op = issue.code === 'too_small' ? (issue.inclusive ? '>=' : '>') : issue.inclusive ? '<=' : '<';
      const what = issue.origin === 'number' || issue.origin === 'int' ? 'a number' : `a ${issue.origin} of length`;
      return `expected ${what} ${op} ${String(bound)}`;
    }
    case 'invalid_format':
      return 'pattern' in issue && typeof issue.pattern === 'string'
        ? `expected a string matching ${issue.pattern}`
        : `expected a valid ${issue.format}`;
    default:
      return undefined;
  }
}

type Schema = $ZodType;

/** Unwraps optional/default/pipe wrappers down to the schema that has the shape. */
function unwrap(schema: Schema): Schema {
  let current: Schema = schema;
  for (;;) {
    if (current instanceof $ZodOptional || current instanceof $ZodNullable || current instanceof $ZodDefault) {
      current = current._zod.def.innerType;
    } else if (current instanceof $ZodPipe) {
      current = current._zod.def.in;
    } else {
      return current;
    }
  }
}

/** The schemas `path` may lead to (several when it goes through a union). */
function schemasAt(root: Schema, path: readonly PathSegment[]): Schema[] {
  let current = [unwrap(root)];
  for (const segment of path) {
    const next: Schema[] = [];
    const visit = (schema: Schema): void => {
      if (schema instanceof $ZodUnion) for (const option of schema._zod.def.options) visit(unwrap(option));
      else if (schema instanceof $ZodObject && typeof segment === 'string' && segment in schema._zod.def.shape) next.push(unwrap(schema._zod.def.shape[segment]!));
      else if (schema instanceof $ZodRecord) next.push(unwrap(schema._zod.def.valueType));
      else if (schema instanceof $ZodArray) next.push(unwrap(schema._zod.def.element));
    };
    current.forEach(visit);
    current = next;
  }
  return current;
}

/** Keys the schema allows in the mapping at `path` (for "did you mean"). */
export function knownKeysAt(root: Schema, path: readonly PathSegment[]): string[] {
  const keys = new Set<string>();
  const visit = (schema: Schema): void => {
    if (schema instanceof $ZodUnion) for (const option of schema._zod.def.options) visit(unwrap(option));
    else if (schema instanceof $ZodObject) for (const key of Object.keys(schema._zod.def.shape)) keys.add(key);
  };
  schemasAt(root, path).forEach(visit);
  return [...keys];
}

function unknownKeyMessage(root: Schema, parent: readonly PathSegment[], key: string): string {
  if (parent.length === 1 && parent[0] === 'defaults' && PROGRAM_ONLY_KEYS.has(key)) {
    return `${JSON.stringify(key)} cannot be set in defaults, only in a program`;
  }
  return `unknown key ${JSON.stringify(key)}${didYouMean(key, knownKeysAt(root, parent))}`;
}

/** The message with what was found appended, unless the message already says. */
function withInput(message: string, input: unknown): string {
  if (input === undefined || message.includes(', got ')) return message;
  return `${message}, got ${showValue(input)}`;
}

/**
 * One issue → its problems. `root` is the schema that produced it (for "did you
 * mean" on unknown keys); `base` is prefixed to the issue's path (for unions).
 */
export function issueToProblems(issue: Issue, root: Schema, base: readonly PathSegment[] = []): IssueProblem[] {
  const path = [...base, ...(issue.path as PathSegment[])];
  if (path.length === 0 && (issue.input === null || issue.input === undefined)) {
    return [{ path, message: 'the file is empty (expected a mapping with a programs: section)', target: 'value' }];
  }
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({ path: [...path, key], message: unknownKeyMessage(root, path, key), target: 'key' }));
    case 'invalid_key': {
      const inner = issue.issues[0]?.message ?? 'invalid key';
      return [{ path, message: withInput(inner, issue.input), target: 'key' }];
    }
    case 'invalid_union': {
      if (issue.input === undefined) return [{ path, message: 'missing required field', target: 'value' }];
      // When only one alternative got past the type check (its issues are inside
      // the value, not about the value itself), report that alternative's issues.
      const deep = issue.errors.filter((branch) => branch.some((inner) => inner.path.length > 0));
      if (deep.length === 1) return deep[0]!.flatMap((inner) => issueToProblems(inner, root, path));
      return [{ path, message: withInput(issue.message, issue.input), target: 'value' }];
    }
    case 'invalid_value': {
      let message = withInput(issue.message, issue.input);
      if (typeof issue.input === 'string') message += didYouMean(issue.input, issue.values.map(String));
      return [{ path, message, target: 'value' }];
    }
    case 'custom':
      return [{ path, message: issue.message, target: 'value' }];
    default:
      return [{ path, message: withInput(issue.message, issue.input), target: 'value' }];
  }
}
