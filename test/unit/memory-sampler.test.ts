import { describe, expect, it } from 'vitest';
import { parseProcStatus, parseSmapsRollup } from '../../src/memory/parse.js';
import { sumProcesses } from '../../src/memory/sampler.js';

const KB = 1024;
const status = (anonKb: number, fileKb: number, shmemKb: number) =>
  parseProcStatus(`Name:\tx\nVmSize:\t${10 * (anonKb + fileKb + shmemKb)} kB\nVmRSS:\t${anonKb + fileKb + shmemKb} kB\nRssAnon:\t${anonKb} kB\nRssFile:\t${fileKb} kB\nRssShmem:\t${shmemKb} kB\n`);
/** A smaps_rollup; the walk's RSS of each kind defaults to what a single sharer of the file pages (PSS × 2) would see. */
const rollup = (pssAnonKb: number, pssFileKb: number, pssShmemKb: number, rss: { anonKb?: number; otherKb?: number } = {}) => {
  const anonKb = rss.anonKb ?? pssAnonKb;
  const otherKb = rss.otherKb ?? 2 * pssFileKb + pssShmemKb;
  return parseSmapsRollup(
    `00400000-7fff0000 ---p 00000000 00:00 0  [rollup]\nRss:  ${anonKb + otherKb} kB\nPss:  ${pssAnonKb + pssFileKb + pssShmemKb} kB\n` +
      `Pss_Anon:  ${pssAnonKb} kB\nPss_File:  ${pssFileKb} kB\nPss_Shmem:  ${pssShmemKb} kB\nAnonymous:  ${anonKb} kB\n`,
  );
};

describe('memory sampler: what a leaf would charge', () => {
  it('uses the proportional shares from smaps_rollup: a file page shared by two counts half in each', () => {
    // Two node processes sharing a 40 MiB binary (20 MiB each in PSS), 30 and 10 MiB heap.
    const s = sumProcesses(
      [
        { status: status(30 * 1024, 40 * 1024, 0), rollup: rollup(30 * 1024, 20 * 1024, 0) },
        { status: status(10 * 1024, 40 * 1024, 1024), rollup: rollup(10 * 1024, 20 * 1024, 1024) },
      ],
      5,
    );
    expect(s.rssBytes).toBe(121 * 1024 * KB); // RSS counts the binary twice
    expect(s.chargedBytes).toBe(81 * 1024 * KB); // anon 40 + file 40 (once) + shmem 1
    expect(s.pinnedBytes).toBe(41 * 1024 * KB); // what cannot be reclaimed: anon + shmem
    expect(s.processes).toBe(2);
  });

  it('falls back to the status RSS figures without Pss_* lines (old kernels) or without smaps_rollup', () => {
    const old = parseSmapsRollup('Rss:  100 kB\nPss:  80 kB\n');
    const s = sumProcesses([{ status: status(60, 30, 10), rollup: old }, { status: status(5, 0, 0) }], 0);
    expect(s.chargedBytes).toBe(105 * KB);
    expect(s.pinnedBytes).toBe(75 * KB);
  });
});

describe('memory sampler: a torn smaps_rollup walk', () => {
  const MiB = 1024 * KB;
  it('a lone process growing while it is walked: the walk saw 74 of its 185 MiB (Debian 6.1, measured); the counters stand', () => {
    // Anonymous and Pss_Anon both short by the mappings the walk missed; nothing shared.
    const s = sumProcesses([{ status: status(185 * 1024, 33 * 1024, 0), rollup: rollup(74 * 1024, 12 * 1024, 0, { otherKb: 33 * 1024 }) }], 0);
    expect(s.pssAnonBytes).toBe(185 * MiB);
    expect(s.pinnedBytes).toBe(185 * MiB);
    // The Node binary it shares with the supervisor still counts at its share.
    expect(s.pssFileBytes).toBe(12 * MiB);
    expect(s.chargedBytes).toBe(197 * MiB);
  });

  it('forked workers: the copy-on-write sharing the walk found comes off, however much of the heap it saw', () => {
    // 100 MiB of anon, 60 MiB of it shared with one sibling (30 MiB in PSS); the walk saw only 80 MiB, 60 of them shared.
    const s = sumProcesses([{ status: status(100 * 1024, 0, 0), rollup: rollup(50 * 1024, 0, 0, { anonKb: 80 * 1024 }) }], 0);
    expect(s.pssAnonBytes).toBe(70 * MiB); // 100 − (80 − 50): the true 70 MiB
  });

  it('shared memory: the file discount first, as far as the file PSS explains it; the rest comes off shmem', () => {
    // File 40 MiB (20 in PSS), shmem 100 MiB shared by four (25 in PSS): a whole walk gives the PSS exactly.
    const whole = sumProcesses([{ status: status(10 * 1024, 40 * 1024, 100 * 1024), rollup: rollup(10 * 1024, 20 * 1024, 25 * 1024, { otherKb: 140 * 1024 }) }], 0);
    expect(whole.pssFileBytes).toBe(20 * MiB);
    expect(whole.pssShmemBytes).toBe(25 * MiB);
    // A walk that saw 40 of the 100 MiB of shmem (10 in PSS): less sharing found, shmem counts more (never less) than its PSS.
    const torn = sumProcesses([{ status: status(10 * 1024, 40 * 1024, 100 * 1024), rollup: rollup(10 * 1024, 20 * 1024, 10 * 1024, { otherKb: 80 * 1024 }) }], 0);
    expect(torn.pssFileBytes).toBe(20 * MiB);
    expect(torn.pssShmemBytes).toBe(70 * MiB); // 100 − (80 − 20 − 10 − 20 of file sharing): above its 25, never below
    expect(torn.pinnedBytes).toBeGreaterThanOrEqual(whole.pinnedBytes);
  });
});

describe('memory sampler: PSS between two smaps_rollup readings', () => {
  it('the estimate takes the last reading\'s sharing discount off the status figures, never below 0', async () => {
    const { discountOf, estimate } = await import('../../src/memory/sampler.js');
    const exact = sumProcesses(
      [
        { status: status(30 * 1024, 40 * 1024, 0), rollup: rollup(30 * 1024, 20 * 1024, 0) },
        { status: status(10 * 1024, 40 * 1024, 0), rollup: rollup(10 * 1024, 20 * 1024, 0) },
      ],
      0,
    );
    const d = { at: 0, ...discountOf(exact) };
    expect(d.charged).toBe(40 * 1024 * KB); // the binary counted twice in RSS
    // 10 MiB more heap since: the estimate grows with it.
    const later = sumProcesses([{ status: status(40 * 1024, 40 * 1024, 0) }, { status: status(10 * 1024, 40 * 1024, 0) }], 500);
    const est = estimate(later, d);
    expect(est.pssAgeMs).toBe(500);
    expect(est.chargedBytes).toBe(90 * 1024 * KB);
    expect(est.pinnedBytes).toBe(50 * 1024 * KB);
    expect(estimate(sumProcesses([], 600), d).chargedBytes).toBe(0);
  });
});

describe('memory sampler: the quick reading for a decision that cannot wait', () => {
  it('reads status only (never smaps_rollup) and takes the last PSS reading’s discount off, whatever its age', async () => {
    const { mkdtempSync, mkdirSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { TreeMeter } = await import('../../src/memory/sampler.js');
    const root = mkdtempSync(join(tmpdir(), 'sv-meter-'));
    const proc = (pid: number, st: string, roll: string) => {
      mkdirSync(join(root, String(pid)), { recursive: true });
      writeFileSync(join(root, String(pid), 'status'), st);
      writeFileSync(join(root, String(pid), 'smaps_rollup'), roll);
    };
    const rollupText = (a: number, f: number) =>
      `00400000-7fff0000 ---p 00000000 00:00 0  [rollup]\nRss:  ${a + 2 * f} kB\nPss:  ${a + f} kB\nPss_Anon:  ${a} kB\nPss_File:  ${f} kB\nPss_Shmem:  0 kB\nAnonymous:  ${a} kB\n`;
    const statusText = (a: number, f: number) => `Name:\tx\nVmRSS:\t${a + f} kB\nRssAnon:\t${a} kB\nRssFile:\t${f} kB\nRssShmem:\t0 kB\n`;
    // A node process: 30 MiB heap, a 40 MiB binary shared with one other process (20 MiB in PSS).
    proc(7, statusText(30 * 1024, 40 * 1024), rollupText(30 * 1024, 20 * 1024));
    const meter = new TreeMeter(root);
    expect(meter.measure([7], 0).chargedBytes).toBe(50 * 1024 * KB);
    // Ten seconds later (a PSS reading would be due) the heap grew by 10 MiB; a smaps_rollup
    // that said anything else would show in the figures.
    proc(7, statusText(40 * 1024, 40 * 1024), rollupText(1, 1));
    const q = meter.quick([7], 10_000);
    expect(q.chargedBytes).toBe(60 * 1024 * KB);
    expect(q.pinnedBytes).toBe(40 * 1024 * KB);
    expect(q.pssAgeMs).toBe(10_000);
    // Other processes than the last reading's: plain status figures.
    proc(8, statusText(1024, 0), rollupText(1, 1));
    expect(meter.quick([7, 8], 10_000).chargedBytes).toBe(81 * 1024 * KB);
  });
});
