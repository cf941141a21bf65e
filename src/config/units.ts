// Human units in the config file: durations (`500ms`, `30s`, `1m30s`, a bare
// number = seconds) to milliseconds, and sizes (`256Mi`, `1G`, `50%`) to bytes.

export class UnitError extends Error {
  override name = 'UnitError';
}

/** Longest duration a Node timer can wait (2^31-1 ms, about 24.8 days). */
export const MAX_DURATION_MS = 2 ** 31 - 1;

const NUMBER = String.raw`\d+(?:\.\d+)?`;
const DURATION_PART = new RegExp(`(${NUMBER})(ms|s|m|h)`, 'y');
const DURATION_UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** What a duration string must look like (also used as the JSON Schema `pattern`). */
export const DURATION_PATTERN = `^(?:${NUMBER}|(?:${NUMBER}(?:ms|s|m|h))+)$`;

export const DURATION_HINT = 'expected a duration like 500ms, 30s, 2m (a bare number means seconds)';

/** Describes a value for an error message: strings quoted, others as YAML would show them. */
export function showValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'a list';
  if (value !== null && typeof value === 'object') return 'a mapping';
  return String(value);
}

/** Parses a duration to whole milliseconds. A bare number (or numeric string) means seconds. */
export function parseDuration(input: string | number): number {
  const ms = typeof input === 'number' ? secondsToMs(input) : parseDurationString(input.trim());
  if (ms === undefined) throw new UnitError(`${DURATION_HINT}, got ${showValue(input)}`);
  if (ms > MAX_DURATION_MS) {
    throw new UnitError(`duration ${showValue(input)} is too long (at most ${formatDuration(MAX_DURATION_MS)})`);
  }
  return ms;
}

function secondsToMs(seconds: number): number | undefined {
  if (!Number.isFinite(seconds) || seconds < 0) return undefined;
  return Math.round(seconds * 1000);
}

function parseDurationString(text: string): number | undefined {
  if (new RegExp(`^${NUMBER}$`).test(text)) return secondsToMs(Number(text));
  if (text === '') return undefined;
  let total = 0;
  DURATION_PART.lastIndex = 0;
  while (DURATION_PART.lastIndex < text.length) {
    const match = DURATION_PART.exec(text);
    if (match === null) return undefined;
    total += Number(match[1]) * DURATION_UNIT_MS[match[2]!]!;
  }
  return Math.round(total);
}

/** Formats milliseconds the way the config file would write them (`1m30s`, `500ms`, `0s`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = Math.round(ms);
  let out = '';
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}

const SIZE_MULTIPLIERS: Record<string, number> = {
  '': 1,
  B: 1,
  k: 1e3, K: 1e3, kB: 1e3, KB: 1e3,
  M: 1e6, MB: 1e6,
  G: 1e9, GB: 1e9,
  T: 1e12, TB: 1e12,
  Ki: 2 ** 10, KiB: 2 ** 10,
  Mi: 2 ** 20, MiB: 2 ** 20,
  Gi: 2 ** 30, GiB: 2 ** 30,
  Ti: 2 ** 40, TiB: 2 ** 40,
};
const SIZE_RE = new RegExp(`^(${NUMBER})(${Object.keys(SIZE_MULTIPLIERS).filter(Boolean).join('|')})?$`);
const PERCENT_RE = new RegExp(`^(${NUMBER})%$`);

/** What a size string must look like (also used as the JSON Schema `pattern`). */
export const SIZE_PATTERN = SIZE_RE.source;
export const SIZE_OR_PERCENT_PATTERN = `(?:${SIZE_RE.source})|(?:${PERCENT_RE.source})`;

export const SIZE_HINT = 'expected a size like 256Mi, 1Gi, 512M or a number of bytes';

export type SizeOrPercent = { bytes: number } | { percent: number };

/**
 * Parses a size to whole bytes. Decimal SI suffixes k/M/G/T are powers of 1000,
 * binary Ki/Mi/Gi/Ti powers of 1024 (a trailing B is allowed); a plain number is bytes.
 */
export function parseSize(input: string | number): number {
  const bytes = sizeToBytes(input);
  if (bytes === undefined) throw new UnitError(`${SIZE_HINT}, got ${showValue(input)}`);
  return bytes;
}

function sizeToBytes(input: string | number): number | undefined {
  let value: number;
  if (typeof input === 'number') {
    value = input;
  } else {
    const match = SIZE_RE.exec(input.trim());
    if (match === null) return undefined;
    value = Number(match[1]) * SIZE_MULTIPLIERS[match[2] ?? '']!;
  }
  if (!Number.isFinite(value) || value < 0) return undefined;
  const bytes = Math.round(value);
  return bytes <= Number.MAX_SAFE_INTEGER ? bytes : undefined;
}

/** Parses a size, or a percentage like `50%` (of a total the caller knows; 0 < percent <= 100). */
export function parseSizeOrPercent(input: string | number): SizeOrPercent {
  if (typeof input === 'string') {
    const match = PERCENT_RE.exec(input.trim());
    if (match !== null) {
      const percent = Number(match[1]);
      if (percent <= 0 || percent > 100) {
        throw new UnitError(`expected a percentage above 0% and at most 100%, got ${showValue(input)}`);
      }
      return { percent };
    }
  }
  const bytes = sizeToBytes(input);
  if (bytes === undefined) throw new UnitError(`${SIZE_HINT} or a percentage like 50%, got ${showValue(input)}`);
  return { bytes };
}
