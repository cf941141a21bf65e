// How the sinks cut what they write: whole lines, at most PIPE_BUF (4 KiB) per write
// where a line allows it, so no other writer to the same pipe can cut a line.
import { describe, expect, it } from 'vitest';
import { ATOMIC_WRITE_BYTES, lineChunks } from '../../src/logging/sink.js';

const text = (pieces: Buffer[]) => pieces.map((p) => p.toString());

describe('lineChunks', () => {
  it('short text is one piece, the same buffer', () => {
    const b = Buffer.from('a\nb\n');
    expect(lineChunks(b)).toEqual([b]);
    expect(lineChunks(b)[0]).toBe(b);
  });

  it('cuts only after a newline, each piece at most the limit, nothing lost or reordered', () => {
    const lines = Array.from({ length: 500 }, (_, i) => `line ${i} ${'x'.repeat(i % 97)}\n`);
    const all = Buffer.from(lines.join(''));
    const pieces = lineChunks(all);
    expect(pieces.length).toBeGreaterThan(1);
    for (const p of pieces) {
      expect(p.length).toBeLessThanOrEqual(ATOMIC_WRITE_BYTES);
      expect(p[p.length - 1]).toBe(0x0a);
    }
    expect(Buffer.concat(pieces).equals(all)).toBe(true);
  });

  it('a line longer than the limit is a piece of its own; a missing final newline stays at the end', () => {
    const long = `${'y'.repeat(10_000)}\n`;
    expect(text(lineChunks(Buffer.from(`a\n${long}b`), 16))).toEqual(['a\n', long, 'b']);
    expect(text(lineChunks(Buffer.from('z'.repeat(40)), 16))).toEqual(['z'.repeat(40)]);
  });
});
