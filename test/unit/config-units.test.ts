import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration, parseSize, parseSizeOrPercent } from '../../src/config/units.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['1.5s', 1500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1h2m3s4ms', 3_723_004],
    ['0', 0],
    ['0s', 0],
    ['30', 30_000],
    ['2.5', 2500],
    [' 10s ', 10_000],
  ])('%j → %d ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it('takes a bare number as seconds', () => {
    expect(parseDuration(25)).toBe(25_000);
    expect(parseDuration(0.25)).toBe(250);
  });

  it.each(['', 's', '10 s', '5 minutes', '1d', '-1s', '1.s', '.5s', 'ms10', '10ms5'])('rejects %j', (input) => {
    expect(() => parseDuration(input)).toThrow(
      `expected a duration like 500ms, 30s, 2m (a bare number means seconds), got ${JSON.stringify(input)}`,
    );
  });

  it('rejects negative and non-finite numbers', () => {
    expect(() => parseDuration(-1)).toThrow('got -1');
    expect(() => parseDuration(Number.NaN)).toThrow('expected a duration');
    expect(() => parseDuration(Infinity)).toThrow('expected a duration');
  });

  it('rejects durations a timer cannot wait for', () => {
    expect(parseDuration('596h')).toBe(596 * 3_600_000);
    expect(() => parseDuration('597h')).toThrow('duration "597h" is too long (at most 596h31m23s647ms)');
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [500, '500ms'],
    [1000, '1s'],
    [90_000, '1m30s'],
    [25_000, '25s'],
    [3_600_000, '1h'],
  ])('%d → %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text)).toBe(ms);
  });
});

describe('parseSize', () => {
  it.each([
    ['100', 100],
    ['100B', 100],
    ['100k', 100_000],
    ['100K', 100_000],
    ['100kB', 100_000],
    ['100Ki', 102_400],
    ['100KiB', 102_400],
    ['512M', 512_000_000],
    ['256Mi', 256 * 1024 * 1024],
    ['1G', 1e9],
    ['1Gi', 1024 ** 3],
    ['1.5Gi', 1.5 * 1024 ** 3],
    ['2T', 2e12],
    ['1Ti', 1024 ** 4],
    ['0', 0],
  ])('%j → %d bytes', (input, bytes) => {
    expect(parseSize(input)).toBe(bytes);
  });

  it('takes a plain number as bytes', () => {
    expect(parseSize(4096)).toBe(4096);
  });

  it.each(['', 'M', '512m', '1 G', '1Gb', '-1', '50%', 'lots', '1e3'])('rejects %j', (input) => {
    expect(() => parseSize(input)).toThrow(`expected a size like 256Mi, 1Gi, 512M or a number of bytes, got ${JSON.stringify(input)}`);
  });

  it('rejects negative numbers', () => {
    expect(() => parseSize(-5)).toThrow('got -5');
  });
});

describe('parseSizeOrPercent', () => {
  it('parses percentages', () => {
    expect(parseSizeOrPercent('50%')).toEqual({ percent: 50 });
    expect(parseSizeOrPercent('12.5%')).toEqual({ percent: 12.5 });
    expect(parseSizeOrPercent('100%')).toEqual({ percent: 100 });
  });

  it('parses sizes into bytes', () => {
    expect(parseSizeOrPercent('1Gi')).toEqual({ bytes: 1024 ** 3 });
    expect(parseSizeOrPercent(1000)).toEqual({ bytes: 1000 });
  });

  it('rejects percentages out of range and garbage', () => {
    expect(() => parseSizeOrPercent('0%')).toThrow('expected a percentage above 0% and at most 100%, got "0%"');
    expect(() => parseSizeOrPercent('150%')).toThrow('got "150%"');
    expect(() => parseSizeOrPercent('half')).toThrow(
      'expected a size like 256Mi, 1Gi, 512M or a number of bytes or a percentage like 50%, got "half"',
    );
  });
});
