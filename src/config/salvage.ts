// Keeps what validated of a config that did not: every field the schema found
// a problem in is dropped (a program whose command was dropped gets a stand-in
// that runs nothing), so the later checks (dependencies, users, shell syntax,
// caps) still run on the rest and `validate` reports every problem in one run.
import * as z from 'zod/mini';
import type { PathSegment } from './errors.js';
import { configSchema, defaultsSchema, programSchema, type Config, type DefaultsConfig, type ProgramConfig } from './schema.js';

/** Stands in for a command that did not validate: a valid command no check complains about. */
const STAND_IN_COMMAND = 'true';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function startsWith(path: readonly PathSegment[], prefix: readonly PathSegment[]): boolean {
  return prefix.every((segment, i) => String(path[i]) === String(segment));
}

/**
 * A copy of `value` without what the problems point at: with `deep`, the
 * innermost mapping key of each path (so `memory.enforce` goes and `memory.max`
 * stays; a list goes whole), else the whole field right after `prefix`.
 */
function withoutBadKeys(
  value: Record<string, unknown>,
  prefix: readonly PathSegment[],
  badPaths: readonly PathSegment[][],
  deep = false,
): Record<string, unknown> {
  const out = structuredClone(value);
  for (const path of badPaths) {
    if (path.length <= prefix.length || !startsWith(path, prefix)) continue;
    let rest = path.slice(prefix.length);
    const firstIndex = rest.findIndex((segment) => typeof segment === 'number');
    if (firstIndex !== -1) rest = rest.slice(0, Math.max(1, firstIndex));
    if (!deep) rest = rest.slice(0, 1);
    let parent: unknown = out;
    for (const segment of rest.slice(0, -1)) parent = isPlainObject(parent) ? parent[String(segment)] : undefined;
    if (isPlainObject(parent)) delete parent[String(rest[rest.length - 1])];
  }
  return out;
}

const topLevelSchema = z.omit(configSchema, { programs: true, defaults: true });

/**
 * The parts of `raw` (the parsed YAML) that validate, given the paths the
 * schema reported problems at; undefined when there is nothing to go on
 * (no `programs:` mapping).
 */
export function salvageConfig(raw: unknown, badPaths: readonly PathSegment[][]): Config | undefined {
  if (!isPlainObject(raw) || !isPlainObject(raw.programs)) return undefined;

  const { programs: _programs, defaults: _defaults, ...rest } = withoutBadKeys(raw, [], badPaths.filter((p) => p[0] !== 'programs' && p[0] !== 'defaults'));
  const top = topLevelSchema.safeParse(rest);
  if (!top.success) return undefined;

  let defaults: DefaultsConfig | undefined;
  if (isPlainObject(raw.defaults)) {
    const deep = defaultsSchema.safeParse(withoutBadKeys(raw.defaults, ['defaults'], badPaths, true));
    const parsed = deep.success ? deep : defaultsSchema.safeParse(withoutBadKeys(raw.defaults, ['defaults'], badPaths));
    if (parsed.success) defaults = parsed.data;
  }

  const programs: Record<string, ProgramConfig> = {};
  for (const [name, value] of Object.entries(raw.programs)) {
    const parse = (deep: boolean) => {
      const fields = isPlainObject(value) ? withoutBadKeys(value, ['programs', name], badPaths, deep) : {};
      if (fields.command === undefined) fields.command = STAND_IN_COMMAND;
      return programSchema.safeParse(fields);
    };
    const deep = parse(true);
    const parsed = deep.success ? deep : parse(false);
    programs[name] = parsed.success ? parsed.data : { command: STAND_IN_COMMAND };
  }
  return { ...top.data, ...(defaults === undefined ? {} : { defaults }), programs };
}
