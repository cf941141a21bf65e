// watchdog-measure.test.ts — does the watchdog's number mean what a leaf cgroup's
// memory.current means? The same six programs run under the supervisor (log level
// trace, so every sampling round logs child.memory_sample) in two pods of a cgroup v2
// VM: writable (each program in its own leaf cgroup: usage_bytes is the leaf's
// memory.current) and read-only (the watchdog: charged_bytes is its PSS reading,
// anon + file + shmem shares from /proc/PID/smaps_rollup):
//   node    node test/fixtures/hold.mjs 96        96 MiB of Buffer
//   python  python3 test/fixtures/hold.py 96      96 MiB bytearray
//   c       .cache/vm/hold 96 (hold.c)            96 MiB malloc + memset
//   mmap    python3 mmap-reader.py A (200 MB)     a mapped file, a few MiB anon
//   capped  python3 mmap-reader.py B (200 MB)     the same, capped at 100 MiB
//   grower  node hog.mjs 50 320                   grows 50 MiB/s to 320 MiB, then holds
// For the first four (caps far above their use) the test prints and asserts the
// watchdog's reading as a ratio of the leaf's memory.current (within ±15 %); for
// `capped`, that neither mode stops it: the leaf reclaims the file pages instead of
// OOM-killing, and the watchdog stops on what cannot be reclaimed (anon + shmem), so
// it does not stop it either. For `grower`, that the watchdog's reading keeps up while a
// program maps memory as it grows: a smaps_rollup walk then misses pages (the kernel
// lets the program's mmap() in halfway through the walk), so every reading must stay
// within a few MiB of the status counters (RSS − its sharing discount, which for a lone
// process is the Node binary it shares with the supervisor). Figures go to docs/benchmarks.md.
// No assertion depends on timing: the guest waits until every program printed ready,
// then lets them run 10 s and compares the median of the last samples.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CACHE_DIR, GUEST_OUT, REPO, runInVm, supervisorCommand, type VmResult } from '../../scripts/vm/vm.mjs';

const MiB = 1024 * 1024;
const FIXTURES = join(REPO, 'test', 'fixtures');
const HOLD_BIN = join(CACHE_DIR, 'hold');
const FILE_BYTES = 200 * 1000 * 1000;
const mmapFile = (name: string) => join(CACHE_DIR, `mmap-${name}.bin`);
const HELD_MIB = 96;
const CAPPED_MAX_MIB = 100;
const PROGRAMS = ['node', 'python', 'c', 'mmap', 'capped', 'grower'] as const;
const GROWER_MIB = 320;
const MEASURED = ['node', 'python', 'c', 'mmap', 'grower'] as const;

/** Host side: the C workload and the two files to map, under .cache (the guest sees the checkout read-only). */
function prepareHost(): void {
  mkdirSync(CACHE_DIR, { recursive: true });
  execFileSync('cc', ['-O2', '-o', HOLD_BIN, join(FIXTURES, 'hold.c')]);
  for (const name of ['a', 'b']) {
    const f = mmapFile(name);
    if (existsSync(f) && statSync(f).size === FILE_BYTES) continue;
    writeFileSync(f, Buffer.alloc(FILE_BYTES, 1));
  }
}

const yamlList = (argv: string[]) => `[${argv.map((a) => JSON.stringify(a)).join(', ')}]`;

function config(): string {
  const prog = (name: string, argv: string[], maxMib: number) => `  ${name}:
    command: ${yamlList(argv)}
    memory: { max: ${maxMib}Mi }
    output: json
`;
  return `log: { level: trace, format: json }
programs:
${prog('node', ['node', `${FIXTURES}/hold.mjs`, String(HELD_MIB)], 512)}${prog('python', ['python3', `${FIXTURES}/hold.py`, String(HELD_MIB)], 512)}${prog('c', [HOLD_BIN, String(HELD_MIB)], 512)}${prog('mmap', ['python3', `${FIXTURES}/mmap-reader.py`, mmapFile('a')], 512)}${prog('capped', ['python3', `${FIXTURES}/mmap-reader.py`, mmapFile('b')], CAPPED_MAX_MIB)}${prog('grower', ['node', `${FIXTURES}/hog.mjs`, '50', String(GROWER_MIB)], 512)}`;
}

function pod(name: string, writable: boolean): string {
  const d = `${GUEST_OUT}/${name}`;
  const cmd = supervisorCommand(['-c', `${d}/supervisor.yaml`], { writable, name, memory: '1536M', report: `${d}/report`, pidfile: `${d}/pidfile` });
  return `
d=${d}
mkdir -p $d
cat >$d/supervisor.yaml <<'EOF_CONFIG'
${config()}EOF_CONFIG
(${cmd} >$d/stdout 2>$d/stderr; echo $? >$d/helper-exit) &
helper=$!
gone() { [ -e $d/helper-exit ]; }
ready() { [ "$(grep -c '"fixture":"ready"' $d/stdout 2>/dev/null)" -ge ${PROGRAMS.length} ]; }
while ! ready && ! gone; do sleep 0.5; done
sleep 10
gone || kill -TERM $(cat $d/pidfile)
wait $helper
`;
}

interface Ev {
  event?: string;
  program?: string;
  [k: string]: any;
}

let vm: Promise<VmResult>;
beforeAll(() => {
  prepareHost();
  vm = runInVm(`set -u\n${pod('leaf', true)}${pod('watchdog', false)}`, { timeoutMs: 540_000, memoryMb: 2048 });
  vm.catch(() => {});
});

async function events(name: string): Promise<Ev[]> {
  const r = await vm;
  const out = r.files[`${name}/stdout`] ?? '';
  const evs = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Ev);
  if (!evs.some((e) => e.event === 'supervisor.exit')) throw new Error(`${name}: no supervisor.exit\n${r.files[`${name}/stderr`] ?? ''}\n${r.stderr}`);
  return evs;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The median of a field over a program's last 8 samples before the shutdown (all taken while every program held its memory). */
function settled(evs: Ev[], program: string, field: string): number {
  const end = evs.findIndex((e) => e.event === 'supervisor.shutdown');
  const samples = evs.slice(0, end).filter((e) => e.event === 'child.memory_sample' && e.program === program);
  expect(samples.length).toBeGreaterThanOrEqual(8);
  return median(samples.slice(-8).map((e) => e[field] as number));
}

describe('the watchdog measures what a leaf cgroup would charge (cgroup v2 VM)', () => {
  it('each workload: the watchdog\'s PSS reading is within ±15 % of the leaf\'s memory.current', { timeout: 900_000 }, async () => {
    const leaf = await events('leaf');
    const wd = await events('watchdog');
    const env = (evs: Ev[]) => evs.find((e) => e.event === 'supervisor.environment')!.programs as Record<string, { enforce: string }>;
    for (const p of PROGRAMS) {
      expect(env(leaf)[p]!.enforce).toBe('cgroup');
      expect(env(wd)[p]!.enforce).toBe('watchdog');
    }
    const rows: string[] = [];
    const ratios: Record<string, number> = {};
    const stopRatios: Record<string, number> = {};
    for (const p of MEASURED) {
      const current = settled(leaf, p, 'usage_bytes');
      // Each workload really holds what it says (in its leaf, where nothing is shared away).
      expect(current, `${p}: leaf memory.current`).toBeGreaterThanOrEqual(p === 'mmap' ? 180 * MiB : HELD_MIB * MiB);
      const charged = settled(wd, p, 'charged_bytes');
      const pinned = settled(wd, p, 'pinned_bytes');
      const rss = settled(wd, p, 'rss_bytes');
      ratios[p] = charged / current;
      stopRatios[p] = pinned / current;
      rows.push(
        `| ${p} | ${(current / MiB).toFixed(1)} | ${(charged / MiB).toFixed(1)} | ${(charged / current).toFixed(2)} | ${(pinned / MiB).toFixed(1)} | ${(rss / MiB).toFixed(1)} | ${(rss / current).toFixed(2)} |`,
      );
    }
    console.log(
      [
        '| workload | leaf memory.current MiB | watchdog PSS MiB | ratio | watchdog anon+shmem MiB | RSS MiB | RSS ratio |',
        '|---|---|---|---|---|---|---|',
        ...rows,
      ].join('\n'),
    );
    for (const p of MEASURED) {
      expect(ratios[p], `${p}: watchdog/leaf`).toBeGreaterThanOrEqual(0.85);
      expect(ratios[p], `${p}: watchdog/leaf`).toBeLessThanOrEqual(1.15);
    }
    // For the workloads made of their own memory, the number the cap is compared with
    // (anon + shmem) is within ±15 % of the leaf's charge too: the same max, the same stop.
    for (const p of ['node', 'python', 'c', 'grower'] as const) {
      expect(stopRatios[p], `${p}: watchdog anon+shmem/leaf`).toBeGreaterThanOrEqual(0.85);
      expect(stopRatios[p], `${p}: watchdog anon+shmem/leaf`).toBeLessThanOrEqual(1.15);
    }
  });

  it('a 200 MB mapped file under a 100 MiB cap: the leaf reclaims instead of killing, and the watchdog does not stop it', { timeout: 900_000 }, async () => {
    const leaf = await events('leaf');
    const wd = await events('watchdog');
    for (const evs of [leaf, wd]) {
      const end = evs.findIndex((e) => e.event === 'supervisor.shutdown');
      const before = evs.slice(0, end);
      for (const name of ['child.memory_cap_exceeded', 'child.oom_killed', 'child.killed', 'container.memory_guard', 'child.exit']) {
        expect(before.filter((e) => e.event === name), name).toEqual([]);
      }
    }
    // It did map the whole file: the watchdog saw it (PSS of file pages far above the cap) and let it be.
    expect(settled(wd, 'capped', 'charged_bytes')).toBeGreaterThan(CAPPED_MAX_MIB * MiB);
    expect(settled(wd, 'capped', 'usage_bytes')).toBeLessThan(CAPPED_MAX_MIB * MiB);
    console.log(
      `capped mmap: leaf memory.current ${(settled(leaf, 'capped', 'usage_bytes') / MiB).toFixed(1)} MiB (cap ${CAPPED_MAX_MIB}), ` +
        `watchdog PSS ${(settled(wd, 'capped', 'charged_bytes') / MiB).toFixed(1)} MiB, anon+shmem ${(settled(wd, 'capped', 'usage_bytes') / MiB).toFixed(1)} MiB`,
    );
  });

  it('a program growing 50 MiB/s: every reading keeps up with it (a torn smaps_rollup walk is not taken at its word)', { timeout: 900_000 }, async () => {
    const wd = await events('watchdog');
    const end = wd.findIndex((e) => e.event === 'supervisor.shutdown');
    const samples = wd.slice(0, end).filter((e) => e.event === 'child.memory_sample' && e.program === 'grower');
    // It grew for 6 s under the watchdog's eye (a sample every 250 ms), then held.
    const growing = samples.filter((e) => (e.rss_bytes as number) < (GROWER_MIB - 8) * MiB);
    expect(growing.length).toBeGreaterThanOrEqual(8);
    expect(settled(wd, 'grower', 'rss_bytes')).toBeGreaterThanOrEqual(GROWER_MIB * MiB);
    // What sharing takes off RSS: the Node binary and libraries it shares with the supervisor.
    const sharing = settled(wd, 'grower', 'rss_bytes') - settled(wd, 'grower', 'charged_bytes');
    const worst = Math.max(...samples.map((e) => (e.rss_bytes as number) - (e.charged_bytes as number)));
    console.log(`grower: ${samples.length} samples (${growing.length} while growing); sharing discount settled ${(sharing / MiB).toFixed(1)} MiB, largest ${(worst / MiB).toFixed(1)} MiB`);
    for (const e of samples) {
      const discount = (e.rss_bytes as number) - (e.charged_bytes as number);
      expect(discount, `at ${((e.rss_bytes as number) / MiB).toFixed(0)} MiB RSS`).toBeLessThanOrEqual(sharing + 16 * MiB);
    }
  });
});
