// supervisor-memory.test.ts — the memory feature end to end on a real cgroup v2 kernel
// (the VM bench): the supervisor (dist/supervisor.mjs) as PID 1 of a Kubernetes-style
// container (memory.max 320 MiB, memory.oom.group=1) runs three programs for 60 s of
// guest time —
//   steady  node, holds 30 MiB, writes steady-ready / steady-finished (on SIGTERM);
//   worker  node test/fixtures/hog.mjs, leaks 50 MiB/s, capped at 48 MiB, restart
//           always (200 ms backoff, crash_loop 1000/60 s so it never turns fatal);
//   burst   python3 test/fixtures/burst.py: 40 MiB at once, held 200 ms, freed, every
//           second; capped at 96 MiB, which it never reaches (resident ≤ ~55 MiB) —
// then gets SIGTERM through the pidfile, as the kubelet would send it. Both kinds of pod:
//   read-only cgroup2 (an ordinary pod): enforcement falls back to the watchdog (250 ms
//     poll of the program's processes) and the container guard is on (95 % of 320 MiB);
//   writable (`--rw`, privileged / delegated): each program in its own leaf cgroup with
//     memory.max (memory.oom.group 0, the default), so the kernel's OOM kill stays in the leaf.
// And the contrast: the same three programs under a plain shell PID 1 in the same kind
// of container — the worker's leak reaches the container's limit and the kernel's
// group kill takes everything (exit 137).
//
// The numbers: the kernel charges a container once for the node binary's page cache,
// but counts every program's own anonymous memory. In the writable pod the leaves hold
// about supervisor 33 + steady 39 + burst 50 + worker 48 = 170 MiB at the worst moment,
// plus active page cache, far below the guard's 304 MiB (95 %) and the 320 MiB limit, so
// only the worker's own cap is ever hit. The room is deliberate: this test is about cap
// hits, and the guard's forecast is not. At 256 MiB the forecast stepped in once in CI:
// at a burst's peak the working set had grown 57 MB in the last second (the 40 MiB burst
// and the worker's leak), and over the reaction time plus how late the guard's loop had
// been running in the TCG guest (400 + 425 ms) that reached the headroom from 174 MiB:
// the guard SIGKILLed the worker, 9 MiB short of its cap. A fresh step looks like the
// start of a fast leak, and the guard treats it as one (guard.test.ts is its test); with
// an 80 or 96 MiB worker cap it did so at 256 MiB on every run.
// In the read-only pod the watchdog compares what a leaf could not reclaim (anon + shmem
// PSS, see sampler.ts) with the cap, as the kernel does in the writable pod: the worker is
// stopped at 48 MiB of its own memory; at 50 MiB/s and a 250 ms poll the overshoot is a
// few MiB, far from the container limit.
//
// No assertion depends on timing: the guest script waits for steady-ready before it
// starts the 60 s clock, and everything checked is event counts, pids, exit statuses
// and kernel counters. One boot runs the three containers one after the other.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  containerCommand, GUEST_OUT, parseReport, REPO, runInVm, supervisorCommand, type Report, type VmResult,
} from '../../scripts/vm/vm.mjs';

const MiB = 1024 * 1024;
const LIMIT_BYTES = 320 * MiB;
const RUN_S = 60;
/** The run goes on past RUN_S until the worker was restarted this often (cap hits, asserted below). */
const MIN_WORKER_RESTARTS = 6;
const FIXTURES = join(REPO, 'test', 'fixtures');
const STEADY_MIB = 30;
const LEAK_MIB_PER_S = 50;
const WORKER_MAX_MIB = 48;
const BURST_MIB = 40;
const BURST_MAX_MIB = 96;
const STEADY_MAX_MIB = 96;

const steadyArgv = (d: string) => ['node', `${FIXTURES}/steady.mjs`, d, String(STEADY_MIB)];
const workerArgv = ['node', `${FIXTURES}/hog.mjs`, String(LEAK_MIB_PER_S)];
const burstArgv = ['python3', `${FIXTURES}/burst.py`, String(BURST_MIB), '1000', '200'];
const yamlList = (argv: string[]) => `[${argv.map((a) => JSON.stringify(a)).join(', ')}]`;

function config(d: string): string {
  return `log: { level: info, format: json }
programs:
  steady:
    command: ${yamlList(steadyArgv(d))}
    memory: { max: ${STEADY_MAX_MIB}Mi }
  worker:
    command: ${yamlList(workerArgv)}
    memory: { max: ${WORKER_MAX_MIB}Mi, stop_grace: 5s }
    backoff: { initial: 200ms, factor: 1, max: 200ms }
    crash_loop: { max_restarts: 1000, window: 60s }
  burst:
    command: ${yamlList(burstArgv)}
    memory: { max: ${BURST_MAX_MIB}Mi }
    output: json
`;
}

// The supervisor in a container; its stdout (the JSON events) goes to $d/stdout on the
// share. The clock starts when the steady server holds its memory; after RUN_S seconds
// of guest time, and once the worker was restarted MIN_WORKER_RESTARTS times (a guest
// slowed down by a loaded host restarts node more slowly: 4 cap hits in 60 s at load
// average 14; at most 4 × RUN_S), the supervisor gets SIGTERM via the pidfile (SIGKILL
// 60 s later if it hangs, which the report would show as 137).
function supervised(name: string, writable: boolean): string {
  const d = `${GUEST_OUT}/${name}`;
  const cmd = supervisorCommand(['-c', `${d}/supervisor.yaml`], { memory: '320M', writable, name, report: `${d}/report`, pidfile: `${d}/pidfile` });
  return `
d=${d}
mkdir -p $d
cat >$d/supervisor.yaml <<'EOF_CONFIG'
${config(d)}EOF_CONFIG
(${cmd} >$d/stdout 2>$d/stderr; echo $? >$d/helper-exit) &
helper=$!
gone() { [ -e $d/helper-exit ]; }
uptime_s() { cut -d. -f1 /proc/uptime; }
while [ ! -s $d/steady-ready ] && ! gone; do sleep 0.2; done
t0=$(uptime_s)
echo $t0 >$d/t-ready
restarts() { grep '"event":"child.restart"' $d/stdout 2>/dev/null | grep -c '"program":"worker"'; }
elapsed() { echo $(($(uptime_s) - t0)); }
while ! gone && { [ $(elapsed) -lt ${RUN_S} ] || { [ $(restarts) -lt ${MIN_WORKER_RESTARTS} ] && [ $(elapsed) -lt ${RUN_S * 4} ]; }; }; do sleep 1; done
uptime_s >$d/t-term
gone || kill -TERM $(cat $d/pidfile)
(sleep 60; gone || kill -KILL $(cat $d/pidfile)) 2>/dev/null &
wd=$!
wait $helper
kill $wd 2>/dev/null
`;
}

// The contrast: a plain shell as PID 1 starts the three programs in the background
// (the worker once the steady server is up) and waits for the worker; if it ever got
// past that wait it would stop the others (the steady server then writes its marker)
// and write init-finished.
const PLAIN_INIT = `
d=$1
${steadyArgv('"$d"').join(' ')} &
steady=$!
while [ ! -s "$d/steady-ready" ]; do sleep 0.1; done
${workerArgv.join(' ')} &
worker=$!
${burstArgv.join(' ')} >/dev/null &
burst=$!
wait $worker
echo $? >"$d/worker-status"
kill -TERM $steady $burst
wait
echo done >"$d/init-finished"
`;

function plain(name: string): string {
  const d = `${GUEST_OUT}/${name}`;
  const cmd = containerCommand(['sh', '-c', PLAIN_INIT, 'plain-init', d], { memory: '320M', name, report: `${d}/report`, pidfile: `${d}/pidfile` });
  return `
d=${d}
mkdir -p $d
${cmd} >$d/stdout 2>$d/stderr
echo $? >$d/helper-exit
`;
}

const guestScript = `set -u\n${plain('plain')}${supervised('ro', false)}${supervised('rw', true)}`;

interface Ev {
  event?: string;
  program?: string;
  pid?: number;
  [k: string]: any;
}

let vm: Promise<VmResult>;
beforeAll(() => {
  // Guest time: the plain container thrashes on its page cache before the kernel's OOM
  // kill, for 30 s or, once, 400 s (memory.events max 58,139 against
  // 442,938); each supervised run takes 60 s up to 4 × 60 s (see supervised()).
  vm = runInVm(guestScript, { timeoutMs: 1_080_000 });
  vm.catch(() => {});
});

async function scenario(name: string) {
  const r = await vm;
  const file = (f: string) => r.files[`${name}/${f}`];
  const report: Report = parseReport(file('report') ?? '');
  if (report['exit'] === undefined) {
    throw new Error(`scenario ${name} left no report; guest stderr:\n${r.stderr}\n${name} stderr:\n${file('stderr') ?? ''}\n${r.console.slice(-2000)}`);
  }
  const lines = (file('stdout') ?? '').split('\n').filter((l) => l.startsWith('{'));
  const all: Ev[] = lines.map((l) => JSON.parse(l) as Ev);
  const events = all.filter((e) => typeof e.event === 'string');
  return { r, report, file, all, events, helperExit: Number(file('helper-exit')) };
}

const of = (events: Ev[], event: string, program?: string) =>
  events.filter((e) => e.event === event && (program === undefined || e.program === program));

/** Splits a supervised run's events around the one supervisor.shutdown. */
function timeline(events: Ev[]) {
  const shutdownAt = events.findIndex((e) => e.event === 'supervisor.shutdown');
  expect(shutdownAt).toBeGreaterThan(0);
  const before = (e: Ev) => events.indexOf(e) < shutdownAt;
  return { shutdownAt, before };
}

const MODES = [
  { name: 'ro', writable: false, enforce: 'watchdog', title: 'read-only cgroup2 (ordinary pod): watchdog + container guard' },
  { name: 'rw', writable: true, enforce: 'cgroup', title: 'writable cgroup2 (--rw): a leaf cgroup per program' },
] as const;

describe.each(MODES)('supervisor as PID 1 of a 320 MiB oom.group=1 container, $title', ({ name, writable, enforce }) => {
  it('supervisor.environment: cgroup v2, the 320 MiB limit, writable or not, and the enforcement chosen', { timeout: 1_200_000 }, async () => {
    const { events } = await scenario(name);
    const envs = of(events, 'supervisor.environment');
    expect(envs).toHaveLength(1);
    const env = envs[0]!;
    expect(env).toMatchObject({
      cgroup: 'v2',
      cgroup_path: '/sys/fs/cgroup',
      cgroup_writable: writable,
      memory_limit_bytes: LIMIT_BYTES,
      oom_group: true,
      swap_available: false,
      oom_score_adj: -1000,
      oom_protected: true,
      // guard: auto = on, because the container has a limit; 95 % of it.
      guard: { threshold_bytes: Math.floor(LIMIT_BYTES * 0.95), poll_ms: 250 },
      programs: {
        steady: { enforce, max_bytes: STEADY_MAX_MIB * MiB, oom_score_adj: 1000 },
        worker: { enforce, max_bytes: WORKER_MAX_MIB * MiB, oom_score_adj: 1000 },
        burst: { enforce, max_bytes: BURST_MAX_MIB * MiB, oom_score_adj: 1000 },
      },
    });
    if (writable) {
      expect(env['cgroup_setup']).toMatchObject({ supervisorCgroup: '/sys/fs/cgroup/supervisor', moved: [1] });
    } else {
      expect(env['cgroup_writable_reason']).toBe('read-only mount');
    }
    const start = of(events, 'supervisor.start')[0]!;
    expect(start).toMatchObject({ pid: 1, pid1: true, mode: 'config' });
  });

  it('PID 1 survives the run and exits 0 on SIGTERM; the container\'s own group kill never fires', { timeout: 1_200_000 }, async () => {
    const { report, events, helperExit, file } = await scenario(name);
    // The container's status is the supervisor's clean exit, not 137.
    expect(report['exit']).toBe(0);
    expect(helperExit).toBe(0);
    expect(of(events, 'supervisor.shutdown')).toEqual([expect.objectContaining({ reason: 'signal', signal: 'SIGTERM' })]);
    expect(of(events, 'supervisor.exit')).toEqual([expect.objectContaining({ code: 0, reason: 'signal', forced: false })]);
    expect(of(events, 'supervisor.error')).toEqual([]);
    expect(of(events, 'child.fatal')).toEqual([]);
    // The guest waited RUN_S s of guest time between steady-ready and the SIGTERM.
    expect(Number(file('t-term')) - Number(file('t-ready'))).toBeGreaterThanOrEqual(RUN_S);
    // memory.events.local: the container cgroup itself never hit an OOM, let alone a group kill.
    expect(report['local_oom_group_kill']).toBe(0);
    expect(report['local_oom_kill']).toBe(0);
    expect(report['local_oom']).toBe(0);
    if (!writable) {
      // No child cgroups: the hierarchical counters are the container's own. The
      // watchdog acted before the kernel ever had to.
      expect(report['oom_kill']).toBe(0);
      expect(report['oom_group_kill']).toBe(0);
    }
  });

  it('the steady server keeps its one pid for the whole run; the burst allocator is never stopped', { timeout: 1_200_000 }, async () => {
    const { events, file, all } = await scenario(name);
    const { before } = timeline(events);
    const spawns = of(events, 'child.spawn', 'steady');
    expect(spawns).toHaveLength(1);
    const pid = spawns[0]!.pid!;
    // It is the process that wrote the markers: ready at its start, finished on SIGTERM.
    expect(Number(file('steady-ready'))).toBe(pid);
    expect(Number(file('steady-finished'))).toBe(pid);
    const exits = of(events, 'child.exit', 'steady');
    expect(exits).toHaveLength(1);
    expect(before(exits[0]!)).toBe(false);
    expect(exits[0]).toMatchObject({ pid, code: 0, signal: null, expected: true, stop_reason: 'shutdown' });
    expect(exits[0]!['uptime_ms']).toBeGreaterThanOrEqual(RUN_S * 1000);
    expect(of(events, 'child.stop', 'steady')).toEqual([expect.objectContaining({ reason: 'shutdown' })]);

    const burstSpawns = of(events, 'child.spawn', 'burst');
    expect(burstSpawns).toHaveLength(1);
    const burstExits = of(events, 'child.exit', 'burst');
    expect(burstExits).toHaveLength(1);
    expect(before(burstExits[0]!)).toBe(false);
    expect(burstExits[0]).toMatchObject({ pid: burstSpawns[0]!.pid, signal: 'SIGTERM', expected: true, stop_reason: 'shutdown' });
    // It really did burst, again and again, the whole time. (How many times depends on how
    // fast the TCG guest runs on a loaded host: one a second when idle, 19 in 60 s under
    // load; so the count asked for is a quarter of that, and the last burst must come in the
    // run's last quarter.)
    const bursts = all.filter((e) => e.program === 'burst' && typeof e['burst'] === 'number');
    expect(bursts.length).toBeGreaterThanOrEqual(RUN_S / 4);
    const lastBurst = Date.parse(String(bursts[bursts.length - 1]!['time']));
    expect(Date.parse(String(burstExits[0]!['time'])) - lastBurst).toBeLessThan((RUN_S * 1000) / 4);
    for (const program of ['steady', 'burst']) {
      for (const ev of ['child.memory_cap_exceeded', 'child.memory_high', 'child.oom_killed', 'child.killed', 'container.memory_guard']) {
        expect(of(events, ev, program), `${ev} for ${program}`).toEqual([]);
      }
    }
  });

  it('every cap hit of the leaking worker is exactly one event, one exit and one restart', { timeout: 1_200_000 }, async () => {
    const { events, report, r } = await scenario(name);
    const { before } = timeline(events);
    const spawns = of(events, 'child.spawn', 'worker');
    const exits = of(events, 'child.exit', 'worker');
    const restarts = of(events, 'child.restart', 'worker');
    const spawnPids = spawns.map((e) => e.pid);
    expect(new Set(spawnPids).size).toBe(spawnPids.length);
    // Nothing else ever stepped in: no guard, no unexplained kill.
    expect(of(events, 'container.memory_guard')).toEqual([]);
    expect(of(events, 'child.killed')).toEqual([]);
    // Every run but (possibly) the one in progress at the shutdown ended at the cap.
    const capExits = exits.filter(before);
    expect(exits.length - capExits.length).toBeLessThanOrEqual(1);

    let capEvents: Ev[];
    if (!writable) {
      capEvents = of(events, 'child.memory_cap_exceeded', 'worker');
      expect(of(events, 'child.oom_killed')).toEqual([]);
      const stops = of(events, 'child.stop', 'worker').filter((e) => e.reason === 'memory_cap');
      // One stop per cap exit, and at most one more: the last run's, overtaken by the shutdown.
      const unmatchedStops = stops.filter((s) => !capExits.some((x) => x.pid === s.pid));
      expect(unmatchedStops.length).toBeLessThanOrEqual(1);
      for (const s of unmatchedStops) expect(s.pid).toBe(spawnPids.at(-1));
      for (const exit of capExits) {
        expect(exit).toMatchObject({ expected: true, stop_reason: 'memory_cap' });
        expect(capEvents.filter((c) => c.pid === exit.pid)).toHaveLength(1);
        expect(stops.filter((s) => s.pid === exit.pid)).toHaveLength(1);
      }
      // A cap event without a memory_cap exit can only be the last run, caught at its
      // cap while the shutdown was already stopping it.
      const unmatched = capEvents.filter((c) => !capExits.some((x) => x.pid === c.pid));
      expect(unmatched.length).toBeLessThanOrEqual(1);
      for (const c of unmatched) expect(c.pid).toBe(spawnPids.at(-1));
      for (const c of capEvents) {
        expect(c.max_bytes).toBe(WORKER_MAX_MIB * MiB);
        expect(c.usage_bytes).toBeGreaterThanOrEqual(WORKER_MAX_MIB * MiB);
        expect(c.overshoot_bytes).toBe(c.usage_bytes - WORKER_MAX_MIB * MiB);
        expect(c.sample).toMatchObject({ processes: 1 });
        // The watchdog's usage is what a leaf could not reclaim: PSS of anon + shmem (sampler.ts).
        expect(c.sample.pss_anon_bytes + c.sample.pss_shmem_bytes).toBe(c.usage_bytes);
      }
    } else {
      capEvents = of(events, 'child.oom_killed', 'worker');
      expect(of(events, 'child.memory_cap_exceeded')).toEqual([]);
      // Each OOM kill is one event and one SIGKILL exit of that very pid.
      for (const exit of capExits) {
        expect(exit).toMatchObject({ signal: 'SIGKILL', status: 137, expected: false });
        expect(capEvents.filter((c) => c.pid === exit.pid)).toHaveLength(1);
      }
      for (const c of capEvents) {
        const exit = exits.filter((x) => x.pid === c.pid);
        expect(exit).toHaveLength(1);
        expect(exit[0]).toMatchObject({ signal: 'SIGKILL' });
        expect(c).toMatchObject({ evidence: 'leaf', enforce: 'cgroup', max_bytes: WORKER_MAX_MIB * MiB });
        // One process killed, the main one, at the leaf's own limit (memory.oom.group 0 by default: no group kill).
        expect(c).toMatchObject({ oom_kills: 1, main_killed: true, victims: [{ pid: c.pid, comm: 'node', main: true }] });
        expect(c.leaf_events_delta).toMatchObject({ oom_kill: 1, oom_group_kill: 0 });
        expect(c.leaf_events_delta.oom).toBeGreaterThanOrEqual(1);
        // The leaf reached its cap (within a huge page or so) and never passed it.
        expect(c.leaf.peak_bytes).toBeLessThanOrEqual(WORKER_MAX_MIB * MiB);
        expect(c.leaf.peak_bytes).toBeGreaterThan((WORKER_MAX_MIB - 8) * MiB);
      }
      // The kernel's OOM kills inside the container (hierarchical counter) are exactly
      // the ones reported: no silent OOM kill.
      expect(report['oom_kill']).toBe(capEvents.length);
      expect(report['oom_group_kill']).toBe(0);
    }
    const capPids = capEvents.map((c) => c.pid);
    expect(new Set(capPids).size).toBe(capPids.length);
    expect(capEvents.length - capExits.length).toBeGreaterThanOrEqual(0);
    expect(capEvents.length - capExits.length).toBeLessThanOrEqual(1);
    // The worker hit its cap again and again.
    expect(capExits.length).toBeGreaterThanOrEqual(5);
    // One restart per cap hit, give or take the run in progress at the shutdown.
    expect(spawns.length - capExits.length).toBeGreaterThanOrEqual(0);
    expect(spawns.length - capExits.length).toBeLessThanOrEqual(1);
    expect(restarts).toHaveLength(spawns.length - 1);

    const mib = (b: number) => Math.round((b / MiB) * 10) / 10;
    const overshoots = capEvents.map((c) => c.overshoot_bytes).filter((o) => typeof o === 'number').sort((a, b) => a - b);
    // Read-only: sampled just before the stop; writable: read at the exit, after the kill.
    const workingSets = capEvents.map((c) => c.container?.working_set_bytes).filter((w) => typeof w === 'number');
    console.log(`[${name}] ${capEvents.length} cap events, ${capExits.length} cap exits, ${spawns.length} worker spawns in ${RUN_S}+ s;` +
      (overshoots.length ? ` watchdog overshoot MiB min ${mib(overshoots[0]!)} median ${mib(overshoots[overshoots.length >> 1]!)} max ${mib(overshoots.at(-1)!)};` : '') +
      ` container working set in the events max ${mib(Math.max(...workingSets))} MiB; container report ${JSON.stringify(report)}; VM wall ${(r.wallMs / 1000).toFixed(1)} s`);
  });
});

describe('contrast: the same three programs under a plain shell PID 1, same container', () => {
  it('the worker\'s leak reaches the container limit and the kernel\'s group kill takes everything: exit 137', { timeout: 1_200_000 }, async () => {
    const { report, file, helperExit } = await scenario('plain');
    console.log(`[plain] container report ${JSON.stringify(report)}`);
    expect(report['exit']).toBe(137);
    expect(helperExit).toBe(137);
    expect(report['oom_kill']).toBeGreaterThanOrEqual(1);
    expect(report['oom_group_kill']).toBeGreaterThanOrEqual(1);
    // This time it is the container cgroup's own group kill.
    expect(report['local_oom_group_kill']).toBeGreaterThanOrEqual(1);
    // The steady server was up, and never got to finish; PID 1 never got past `wait`.
    expect(file('steady-ready')).toMatch(/^\d+\n$/);
    expect(file('steady-finished')).toBeUndefined();
    expect(file('worker-status')).toBeUndefined();
    expect(file('init-finished')).toBeUndefined();
  });
});
