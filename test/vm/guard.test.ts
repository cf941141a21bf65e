// guard.test.ts — the container guard against an uncapped leaker, and leaf memory
// pressure, on a real cgroup v2 kernel (the VM bench, one boot).
//
// Guard: the supervisor is PID 1 of an ordinary pod (read-only cgroup2, 256 MiB,
// memory.oom.group=1 — nothing but the guard stands between a leak and the kernel's
// group kill of everything) running a steady server (30 MiB, cap 96 MiB), a burst
// allocator (40 MiB for 200 ms every second, cap 96 MiB) and a leaker with no cap of
// its own (test/fixtures/hog.mjs, 50 or 100 MiB/s, restarted 200 ms after each stop)
// until the guard has stopped it 3 times (at most 240 s of guest time). A sampler outside the container reads the container cgroup's
// memory.current and memory.stat every few ms and keeps the trace. The safety
// property asserted: the working set (current − inactive_file) never comes within
// 8 MiB of the limit, and the kernel never OOM-kills anything. Latency per stop,
// closest approach and page cache left are printed (docs/benchmarks.md), not asserted.
//
// Pressure: in a writable 512 MiB pod (room for both leaves: the guard stays out), a program whose leaf has memory.high 80 MiB and
// memory.max 96 MiB leaks 4 MiB/s, and one with only max 96 MiB too, until both
// were OOM-killed (at most 240 s). Asserted:
// `child.memory_pressure` comes for the program, before its OOM kill when there is
// one. How much earlier is printed.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { GUEST_OUT, parseReport, REPO, runInVm, supervisorCommand, type Report, type VmResult } from '../../scripts/vm/vm.mjs';

const MiB = 1024 * 1024;
const LIMIT_BYTES = 256 * MiB;
const THRESHOLD_BYTES = Math.floor(LIMIT_BYTES * 0.95);
const HEADROOM_BYTES = 8 * MiB;
// Each pod runs until what it is about has happened (guard: 3 stops of the leaker;
// pressure: an OOM kill of highleak), or at most this long in guest time.
const STOPS = 3;
const MAX_RUN_S = 240;
const FIXTURES = join(REPO, 'test', 'fixtures');
// GUARD_VM_RATES=100 GUARD_VM_PRESSURE=0 for a quicker look at one case.
const RATES = (process.env['GUARD_VM_RATES'] ?? '50,100').split(',').map(Number);
const PRESSURE = process.env['GUARD_VM_PRESSURE'] !== '0';

const yamlList = (argv: string[]) => `[${argv.map((a) => JSON.stringify(a)).join(', ')}]`;

function leakConfig(d: string, rate: number): string {
  return `log: { level: info, format: json }
programs:
  steady:
    command: ${yamlList(['node', `${FIXTURES}/steady.mjs`, d, '30'])}
    memory: { max: 96Mi }
  burst:
    command: ${yamlList(['python3', `${FIXTURES}/burst.py`, '40', '1000', '200'])}
    memory: { max: 96Mi }
  leaker:
    command: ${yamlList(['node', `${FIXTURES}/hog.mjs`, String(rate)])}
    memory: { stop_grace: 5s }
    backoff: { initial: 200ms, factor: 1, max: 200ms }
    crash_loop: { max_restarts: 1000, window: 60s }
`;
}

function pressureConfig(d: string): string {
  return `log: { level: info, format: json }
programs:
  steady:
    command: ${yamlList(['node', `${FIXTURES}/steady.mjs`, d, '30'])}
  highleak:
    command: ${yamlList(['node', `${FIXTURES}/hog.mjs`, '4'])}
    memory: { high: 80Mi, max: 96Mi }
    backoff: { initial: 200ms, factor: 1, max: 200ms }
    crash_loop: { max_restarts: 1000, window: 60s }
  maxleak:
    command: ${yamlList(['node', `${FIXTURES}/hog.mjs`, '4'])}
    memory: { max: 96Mi }
    backoff: { initial: 200ms, factor: 1, max: 200ms }
    crash_loop: { max_restarts: 1000, window: 60s }
`;
}

// Outside the container: every ~4 ms, the container cgroup's usage, working set and
// page cache, as "t_ms ws_kib usage_kib file_kib" lines, until the stop file exists.
const SAMPLER = String.raw`
import os, sys, time
cg, stop, out = sys.argv[1], sys.argv[2], sys.argv[3]
while not os.path.exists(cg + '/memory.current'):
    if os.path.exists(stop): sys.exit(0)
    time.sleep(0.01)
lines = []
while not os.path.exists(stop):
    try:
        cur = int(open(cg + '/memory.current').read())
        inactive = file = 0
        for l in open(cg + '/memory.stat'):
            k, v = l.split()
            if k == 'inactive_file': inactive = int(v)
            elif k == 'file': file = int(v)
    except (OSError, ValueError):
        break
    lines.append('%d %d %d %d' % (time.time() * 1000, (cur - inactive) >> 10, cur >> 10, file >> 10))
    time.sleep(0.004)
open(out, 'w').write('\n'.join(lines) + '\n')
`;

function supervised(name: string, yaml: string, done: string, o: { writable?: boolean; sampler?: boolean; memory?: string }): string {
  const d = `${GUEST_OUT}/${name}`;
  const cmd = supervisorCommand(['-c', `${d}/supervisor.yaml`], { writable: o.writable, memory: o.memory, name, report: `${d}/report`, pidfile: `${d}/pidfile` });
  return `
d=${d}
mkdir -p $d
cat >$d/supervisor.yaml <<'EOF_CONFIG'
${yaml}EOF_CONFIG
${o.sampler ? `python3 ${GUEST_OUT}/sampler.py /sys/fs/cgroup/kubepods/pod-${name}/ctr $d/sampler-stop $d/trace &\nsampler=$!` : 'sampler='}
(${cmd} >$d/stdout 2>$d/stderr; echo $? >$d/helper-exit) &
helper=$!
gone() { [ -e $d/helper-exit ]; }
uptime_s() { cut -d. -f1 /proc/uptime; }
while [ ! -s $d/steady-ready ] && ! gone; do sleep 0.2; done
t0=$(uptime_s)
done_yet() { ${done}; }
while ! gone && ! done_yet && [ $(($(uptime_s) - t0)) -lt ${MAX_RUN_S} ]; do sleep 1; done
sleep 2
gone || kill -TERM $(cat $d/pidfile)
(sleep 60; gone || kill -KILL $(cat $d/pidfile)) 2>/dev/null &
wd=$!
wait $helper
kill $wd 2>/dev/null
touch $d/sampler-stop
[ -z "$sampler" ] || wait $sampler
`;
}

const guestScript = `set -u
cat >${GUEST_OUT}/sampler.py <<'EOF_SAMPLER'
${SAMPLER}EOF_SAMPLER
${RATES.map((rate) => supervised(`leak${rate}`, leakConfig(`${GUEST_OUT}/leak${rate}`, rate), `[ $(grep -c '"action":"stop"' $d/stdout) -ge ${STOPS} ]`, { sampler: true })).join('')}
${PRESSURE ? supervised('pressure', pressureConfig(`${GUEST_OUT}/pressure`), `killed() { grep '"event":"child.oom_killed"' $d/stdout | grep -q "\"program\":\"$1\""; }; killed highleak && killed maxleak`, { writable: true, memory: '512M' }) : ''}
`;

interface Ev {
  event?: string;
  program?: string;
  pid?: number;
  time?: string;
  [k: string]: any;
}

let vm: Promise<VmResult>;
beforeAll(() => {
  vm = runInVm(guestScript, { timeoutMs: 1_200_000 });
  vm.catch(() => {});
});

async function scenario(name: string) {
  const r = await vm;
  const file = (f: string) => r.files[`${name}/${f}`];
  const report: Report = parseReport(file('report') ?? '');
  if (report['exit'] === undefined) {
    throw new Error(`scenario ${name} left no report; guest stderr:\n${r.stderr}\n${name} stderr:\n${file('stderr') ?? ''}\n${r.console.slice(-2000)}`);
  }
  const events: Ev[] = (file('stdout') ?? '').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Ev).filter((e) => typeof e.event === 'string');
  const trace = (file('trace') ?? '').split('\n').filter(Boolean).map((l) => {
    const [t, ws, usage, cache] = l.split(' ').map(Number);
    return { t: t!, ws: ws! * 1024, usage: usage! * 1024, file: cache! * 1024 };
  });
  return { r, report, events, trace, helperExit: Number(file('helper-exit')) };
}

const of = (events: Ev[], event: string, program?: string) => events.filter((e) => e.event === event && (program === undefined || e.program === program));
const at = (e: Ev) => Date.parse(e.time!);
const mib = (b: number) => Math.round((b / MiB) * 10) / 10;

describe.each(RATES)('container guard, read-only 256 MiB oom.group=1 pod, uncapped leaker at %i MiB/s', (rate) => {
  it('PID 1 survives, the kernel never OOM-kills, the leaker is stopped again and again and nobody else is', { timeout: 1_500_000 }, async () => {
    const { report, events, helperExit } = await scenario(`leak${rate}`);
    expect(report['exit']).toBe(0);
    expect(helperExit).toBe(0);
    expect(report['oom_kill']).toBe(0);
    expect(report['oom_group_kill']).toBe(0);
    expect(report['local_oom']).toBe(0);
    expect(of(events, 'supervisor.error')).toEqual([]);
    expect(of(events, 'child.killed')).toEqual([]);
    expect(of(events, 'child.oom_killed')).toEqual([]);
    const env = of(events, 'supervisor.environment')[0]!;
    expect(env).toMatchObject({ cgroup: 'v2', cgroup_writable: false, memory_limit_bytes: LIMIT_BYTES, guard: { threshold_bytes: THRESHOLD_BYTES, headroom_bytes: HEADROOM_BYTES } });
    expect(env['programs']['leaker']).toMatchObject({ enforce: 'none', max_bytes: null });

    const guard = of(events, 'container.memory_guard');
    const stops = guard.filter((e) => e.action === 'stop');
    expect(stops.length).toBeGreaterThanOrEqual(STOPS);
    for (const e of guard) expect(e.program).toBe('leaker');
    // Each stop is one exit of that pid with stop_reason container_memory_guard; one restart each.
    const exits = of(events, 'child.exit', 'leaker');
    for (const s of stops) {
      const exit = exits.filter((x) => x.pid === s.pid);
      expect(exit).toHaveLength(1);
      expect(exit[0]).toMatchObject({ stop_reason: 'container_memory_guard' });
      expect(s).toMatchObject({ limit_bytes: LIMIT_BYTES, threshold_bytes: THRESHOLD_BYTES, headroom_bytes: HEADROOM_BYTES });
      expect(s.sample).toMatchObject({ processes: 1 });
    }
    // steady and burst kept their one pid
    for (const p of ['steady', 'burst']) expect(of(events, 'child.spawn', p)).toHaveLength(1);
  });

  it('the working set never comes within 8 MiB of the limit (sampled every few ms from outside)', { timeout: 1_500_000 }, async () => {
    const { trace, events, r } = await scenario(`leak${rate}`);
    expect(trace.length).toBeGreaterThan(100);
    const max = trace.reduce((a, b) => (b.ws > a.ws ? b : a));
    const stops = of(events, 'container.memory_guard').filter((e) => e.action === 'stop');
    const kills = of(events, 'container.memory_guard').filter((e) => e.action === 'kill');
    const exits = of(events, 'child.exit', 'leaker');
    // The leak rate the VM really achieved: the steepest rise of the working set over 500 ms.
    let steepest = 0;
    for (let i = 0, j = 0; i < trace.length; i++) {
      while (trace[i]!.t - trace[j]!.t > 500) j++;
      if (trace[i]!.t - trace[j]!.t >= 250) steepest = Math.max(steepest, ((trace[i]!.ws - trace[j]!.ws) * 1000) / (trace[i]!.t - trace[j]!.t));
    }
    // Per stop: when the working set crossed the threshold (if it did before the
    // decision), the decision, the leaker's exit, and the closest approach around it.
    const childStops = of(events, 'child.stop', 'leaker');
    const rows = stops.map((s) => {
      // The decision: the guard signals first and logs after, so from its child.stop back by acted_ms.
      const stop = childStops.find((x) => x.pid === s.pid);
      const t = (stop ? at(stop) : at(s)) - (s.acted_ms ?? 0);
      const exit = exits.find((x) => x.pid === s.pid);
      const te = exit ? at(exit) : t;
      const win = trace.filter((p) => p.t >= t - 2000 && p.t <= te + 300);
      const peak = win.reduce((a, b) => (b.ws > a.ws ? b : a), win[0] ?? { t, ws: 0, usage: 0, file: 0 });
      // Freed: the working set back below where it was at the decision, minus half the victim's usage.
      const at0 = trace.filter((p) => p.t <= t).at(-1)?.ws ?? s.container_used_bytes;
      const freed = trace.find((p) => p.t > t && p.ws < at0 - s.usage_bytes / 2);
      // The threshold crossed before time `until`: the start of the run of samples at or
      // above it that reaches `until`, or undefined when the working set was below it then.
      const crossedBefore = (until: number): number | undefined => {
        const before = trace.filter((p) => p.t >= t - 2000 && p.t <= until);
        let cross: number | undefined;
        for (let i = before.length - 1; i >= 0 && before[i]!.ws >= THRESHOLD_BYTES; i--) cross = before[i]!.t;
        return cross;
      };
      const cross = crossedBefore(t);
      // The signal went out acted_ms after the decision: was the threshold crossed by then?
      const signalled = t + (s.acted_ms ?? 0);
      const crossBySignal = crossedBefore(signalled);
      return {
        cause: s.cause,
        decided_at_mib: mib(s.container_used_bytes),
        growth_mib_s: mib(s.growth_bytes_per_s),
        grace_ms: s.grace_ms,
        acted_ms: s.acted_ms,
        reaction_ms: s.reaction_ms,
        after_crossing_ms: cross === undefined ? null : t - cross,
        signal_after_crossing_ms: crossBySignal === undefined ? null : signalled - crossBySignal,
        to_exit_ms: te - t,
        freed_ms: freed ? freed.t - t : null,
        closest_mib: mib(LIMIT_BYTES - peak.ws),
        cache_left_mib: mib(peak.file),
      };
    });
    const late = rows.map((x) => x.signal_after_crossing_ms).filter((x): x is number => x !== null);
    console.log(`[leak${rate}] ${stops.length} stops, ${kills.length} escalations to SIGKILL; closest approach ${mib(LIMIT_BYTES - max.ws)} MiB below the limit ` +
      `(usage ${mib(max.usage)} MiB, page cache ${mib(max.file)} MiB then); signals after a crossing: ${late.length === 0 ? 'none' : `${late.length}, the latest ${Math.max(...late)} ms after it`}; ` +
      `steepest growth ${mib(steepest)} MiB/s; ${trace.length} samples; VM wall ${(r.wallMs / 1000).toFixed(1)} s\n` +
      rows.map((x) => JSON.stringify(x)).join('\n'));
    expect(LIMIT_BYTES - max.ws).toBeGreaterThanOrEqual(HEADROOM_BYTES);
  });
});

describe.runIf(PRESSURE)('leaf memory pressure, writable pod', () => {
  it('child.memory_pressure comes for a leaking program near its mark, before its OOM kill', { timeout: 1_500_000 }, async () => {
    const { events, report } = await scenario('pressure');
    expect(report['exit']).toBe(0);
    expect(of(events, 'supervisor.error')).toEqual([]);
    const env = of(events, 'supervisor.environment')[0]!;
    expect(env).toMatchObject({ cgroup: 'v2', cgroup_writable: true, psi: true });
    const lines: string[] = [];
    for (const program of ['highleak', 'maxleak']) {
      const pressure = of(events, 'child.memory_pressure', program);
      const kills = of(events, 'child.oom_killed', program);
      for (const k of kills) {
        // the run that was killed had its pressure event first
        const ev = pressure.filter((p) => p.pid === k.pid);
        lines.push(`${program} pid ${k.pid}: ${ev.length ? `pressure ${at(k) - at(ev[0]!)} ms before the OOM kill (stall ${ev[0]!.some_stall_pct} %, at ${mib(ev[0]!.usage_bytes)} MiB)` : 'OOM-killed with no pressure event'}`);
      }
      for (const p of pressure) {
        expect(p).toMatchObject({ program, some_stall_pct: expect.any(Number) });
        expect(p.some_stall_pct).toBeGreaterThanOrEqual(10);
        if (!kills.some((k) => k.pid === p.pid)) lines.push(`${program} pid ${p.pid}: pressure at ${mib(p.usage_bytes)} MiB (stall ${p.some_stall_pct} %), no OOM kill in the run`);
      }
    }
    console.log(`[pressure]\n${lines.join('\n')}`);
    // The program with a high mark is reported.
    expect(of(events, 'child.memory_pressure', 'highleak').length).toBeGreaterThanOrEqual(1);
    // Every OOM-killed run of it was reported first.
    for (const k of of(events, 'child.oom_killed', 'highleak')) {
      const ev = of(events, 'child.memory_pressure', 'highleak').filter((p) => p.pid === k.pid);
      expect(ev.length).toBeGreaterThanOrEqual(1);
      expect(at(ev[0]!)).toBeLessThan(at(k));
    }
  });
});
