// Applies the config's `defaults:` section to one program: a field the program
// sets wins; nested sections (backoff, crash_loop, env, …) merge field by field,
// except on_exit/on_fatal, which are one choice and are replaced whole.
import type { DefaultsConfig, ProgramConfig } from '../config/schema.js';

/** Sections that are a single choice even when written as a mapping. */
const REPLACED_WHOLE = new Set(['on_exit', 'on_fatal']);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function mergeDefaults(defaults: DefaultsConfig | undefined, program: ProgramConfig): ProgramConfig {
  if (defaults === undefined) return program;
  const merged: Record<string, unknown> = { ...program };
  for (const [key, value] of Object.entries(defaults)) {
    if (value === undefined) continue;
    const own = merged[key];
    if (own === undefined) merged[key] = value;
    else if (!REPLACED_WHOLE.has(key) && isPlainObject(own) && isPlainObject(value)) merged[key] = { ...value, ...own };
  }
  return merged as ProgramConfig;
}

/** Where a program's effective value of `field` was written: the program, else `defaults`. */
export function fieldSource(program: ProgramConfig, field: string): 'program' | 'defaults' {
  return (program as Record<string, unknown>)[field] !== undefined ? 'program' : 'defaults';
}
