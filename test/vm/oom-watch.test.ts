// oom-watch.test.ts — every OOM kill is told, once and truly, on a real cgroup v2
// kernel (the VM bench), with the supervisor as PID 1 of Kubernetes-style containers.
// One boot runs four containers one after the other:
//   leaf   writable (--rw), 512 MiB: a wrapper shell that does not exec (its python is
//          OOM-killed at the 100 MiB leaf cap, the shell prints "died 137" and lives
//          on) and a master that re-forks its OOM-killed worker twice; memory.events
//          is watched by inotify. Neither is restarted: their main process never died.
//   ro     read-only (an ordinary pod), 256 MiB, container oom.group=0, guard off: an
//          uncapped wrapper's python grows to the container limit and the kernel kills
//          it alone; the container's memory.events tells the supervisor, which names
//          the program from the processes that vanished then.
//   group  writable, 256 MiB, container oom.group=1 (the kubelet's), guard off: four
//          programs in leaves capped above what the container can give; a leaker
//          drives the container to its limit and the kernel's group kill takes all four
//          (PID 1 survives at oom_score_adj -1000). Every victim is child.oom_killed
//          with evidence container (no leaf hit its own limit), one kill each. The
//          leaker does not restart, so there is exactly one such kill.
//   tiny   writable, 256 MiB: the memory manager itself (config validation may refuse
//          such caps; the run-time path must hold regardless) as PID 1 starts programs
//          capped at 1 byte and 64 KiB. The leaf has no limit while PID 1 is inside it
//          for the fork; once the cap is written the kernel OOM-kills the child in its
//          leaf; PID 1 lives on and the leaves go.
// Assertions are counts, pids, exit statuses and kernel counters; the guest waits for
// markers in the output, never for a fixed time.
import { buildSync } from 'esbuild';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CACHE_DIR, containerCommand, GUEST_OUT, parseReport, REPO, runInVm, supervisorCommand, type Report, type VmResult } from '../../scripts/vm/vm.mjs';

const MiB = 1024 * 1024;
const FIXTURES = join(REPO, 'test', 'fixtures');

const CONFIGS: Record<string, string> = {
  leaf: `log: { level: info, format: json }
programs:
  wrapped:
    command: ["sh", "-c", "python3 ${FIXTURES}/oom-alloc.py 1; echo died $?; sleep 1000"]
    memory: { max: 100Mi }
  master:
    command: ["python3", "${FIXTURES}/oom-master.py", "2"]
    memory: { max: 100Mi }
`,
  ro: `log: { level: info, format: json }
memory: { guard: { enabled: false } }
programs:
  wrapped:
    command: ["sh", "-c", "python3 ${FIXTURES}/oom-alloc.py 1; echo died $?; sleep 1000"]
  steady:
    command: ["sleep", "1000"]
`,
  group: `log: { level: info, format: json }
memory: { guard: { enabled: false } }
programs:
  a:
    command: ["sleep", "1000"]
    memory: { max: 200Mi }
  b:
    command: ["sleep", "1000"]
    memory: { max: 200Mi }
  c:
    command: ["sleep", "1000"]
    memory: { max: 200Mi }
  leaker:
    command: ["node", "${FIXTURES}/hog.mjs", "50"]
    memory: { max: 240Mi }
    restart: never
`,
};

// What each container waits for in its output before the SIGTERM.
const DONE: Record<string, string> = {
  leaf: `grep -q 'died 137' $d/stdout && grep -q 'master done' $d/stdout`,
  ro: `grep -q 'died 137' $d/stdout`,
  group: `[ $(grep -c '"child.oom_killed"' $d/stdout) -ge 4 ]`,
};

function container(name: string, o: { writable: boolean; memory: string; oomGroup: 0 | 1 }): string {
  const d = `${GUEST_OUT}/${name}`;
  const cmd = supervisorCommand(['-c', `${d}/supervisor.yaml`], { ...o, name, report: `${d}/report`, pidfile: `${d}/pidfile` });
  return `
d=${d}
mkdir -p $d
cat >$d/supervisor.yaml <<'EOF_CONFIG'
${CONFIGS[name]}EOF_CONFIG
(${cmd} >$d/stdout 2>$d/stderr; echo $? >$d/helper-exit) &
helper=$!
gone() { [ -e $d/helper-exit ]; }
i=0
while ! gone && ! (${DONE[name]}) && [ $i -lt 1500 ]; do sleep 0.2; i=$((i + 1)); done
sleep 1
gone || kill -TERM $(cat $d/pidfile)
(sleep 60; gone || kill -KILL $(cat $d/pidfile)) 2>/dev/null &
wd=$!
wait $helper
kill $wd 2>/dev/null
`;
}

// The "tiny" container's PID 1: the memory manager with hand-made plans, printing one JSON object.
const TINY = `
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryManager } from './src/memory/manager.js';
import { detectMemoryEnvironment } from './src/memory/environment.js';

const env = detectMemoryEnvironment();
const out: Record<string, any> = { pid: process.pid, runs: [] };
const exited = (c: any) => new Promise<any>((r) => c.exitCode !== null || c.signalCode !== null ? r({ code: c.exitCode, signal: c.signalCode }) : c.once('exit', (code: any, signal: any) => r({ code, signal })));
const plan = (name: string, argv: string[], bytes: number): any => ({
  name, argv, env: {}, envKeys: [], restart: 'always', backoff: { initialMs: 1000, factor: 2, maxMs: 30000, resetAfterMs: 60000 },
  startSecsMs: 1000, crashLoop: { maxRestarts: 5, windowMs: 60000 }, stopSignal: 'SIGTERM', stopGraceMs: 1000, processGroup: true,
  startAfter: [], output: 'inherit', stdin: 'ignore', onExit: { action: 'continue' }, onFatal: { action: 'shutdown' },
  memory: { max: { bytes }, enforce: 'cgroup', rlimit: 'data', oomScoreAdj: 1000, stopGraceMs: 100 },
});
const programs = [plan('one-byte', ['sleep', '1000'], 1), plan('kib64', ['python3', '-c', 'import time; time.sleep(1000)'], 64 * 1024)];
const events: any[] = [];
const mm = new MemoryManager({ programs, shutdownTimeoutMs: 25000, singleCommand: false,
  memory: { pollIntervalMs: 100, guard: { enabled: false, threshold: { percent: 95 } }, oomScoreAdj: -1000 } } as any,
  env, { emit: (event: string, fields: any) => events.push({ event, ...fields }) } as any,
  { stopForRestart() {}, giveUp() {}, runningPids: () => new Map(), isStoppable: () => true });
try {
  mm.start();
  for (const p of programs) {
    const run: Record<string, any> = { program: p.name };
    mm.beforeSpawn(p);
    run.selfCgroupInside = readFileSync('/proc/self/cgroup', 'utf8').trim();
    const leaf = '/sys/fs/cgroup' + run.selfCgroupInside.slice(3);
    run.leafMaxInside = readFileSync(join(leaf, 'memory.max'), 'utf8').trim();
    const child = spawn(p.argv[0], p.argv.slice(1), { stdio: 'ignore' });
    mm.afterSpawn(p, child.pid);
    run.selfCgroupAfter = readFileSync('/proc/self/cgroup', 'utf8').trim();
    run.childPid = child.pid;
    const timer = setTimeout(() => child.kill('SIGTERM'), 30000);
    run.exit = await exited(child);
    clearTimeout(timer);
    mm.childExited(p, child.pid!, run.exit, false);
    run.leafEvents = readFileSync(join(leaf, 'memory.events'), 'utf8').trim().split('\\n');
    mm.programEnded(p);
    run.leafExists = existsSync(leaf);
    out.runs.push(run);
  }
  mm.finished();
} catch (e) {
  out.error = (e as Error).stack;
}
out.events = events.filter((e) => e.event !== 'supervisor.environment');
console.log(JSON.stringify(out));
`;

function bundleTiny(): string {
  const dir = join(CACHE_DIR, '..', 'memory-vm');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'oom-tiny-check.mjs');
  buildSync({
    stdin: { contents: TINY, loader: 'ts', resolveDir: REPO, sourcefile: 'oom-tiny-check.ts' },
    bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile: file, logLevel: 'warning',
  });
  return file;
}

const guestScript = (tiny: string) => `set -u
${container('leaf', { writable: true, memory: '512M', oomGroup: 1 })}
${container('ro', { writable: false, memory: '256M', oomGroup: 0 })}
${container('group', { writable: true, memory: '256M', oomGroup: 1 })}
mkdir -p ${GUEST_OUT}/tiny
${containerCommand(['node', tiny], { writable: true, memory: '256M', name: 'tiny', report: `${GUEST_OUT}/tiny/report` })} >${GUEST_OUT}/tiny/out.json 2>${GUEST_OUT}/tiny/stderr
`;

interface Ev {
  event?: string;
  program?: string | null;
  pid?: number;
  [k: string]: any;
}

let vm: Promise<VmResult>;
beforeAll(() => {
  vm = runInVm(guestScript(bundleTiny()), { timeoutMs: 540_000 });
  vm.catch(() => {});
});

async function scenario(name: string) {
  const r = await vm;
  const file = (f: string) => r.files[`${name}/${f}`];
  const report: Report = parseReport(file('report') ?? '');
  if (report['exit'] === undefined) {
    throw new Error(`scenario ${name} left no report; guest stderr:\n${r.stderr}\n${name} stderr:\n${file('stderr') ?? ''}\n${r.console.slice(-2000)}`);
  }
  const text = file('stdout') ?? '';
  const events = text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Ev).filter((e) => typeof e.event === 'string');
  return { r, report, text, events };
}

const of = (events: Ev[], event: string, program?: string | null) =>
  events.filter((e) => e.event === event && (program === undefined || e.program === program));

function cleanExit(report: Report, events: Ev[]): void {
  expect(report['exit']).toBe(0);
  expect(of(events, 'supervisor.exit')).toEqual([expect.objectContaining({ code: 0, reason: 'signal' })]);
  expect(of(events, 'supervisor.error')).toEqual([]);
  expect(of(events, 'child.killed')).toEqual([]);
}

describe('OOM kills on cgroup v2, supervisor as PID 1', () => {
  it('leaf (writable): a wrapper shell\'s python and a master\'s workers, each kill one event naming its victim; no restart', { timeout: 600_000 }, async () => {
    const { report, text, events } = await scenario('leaf');
    console.log(`[leaf] report ${JSON.stringify(report)}; oom events ${JSON.stringify(of(events, 'child.oom_killed').map((e) => [e.program, e.evidence, e.oom_kills, e.victims]))}`);
    cleanExit(report, events);
    expect(text).toContain('died 137');
    const wrapped = of(events, 'child.oom_killed', 'wrapped');
    expect(wrapped).toHaveLength(1);
    expect(wrapped[0]).toMatchObject({ evidence: 'leaf', main_killed: false, oom_kills: 1, enforce: 'cgroup', max_bytes: 100 * MiB });
    const pyPid = Number(/^allocating (\d+)$/m.exec(text)?.[1]);
    expect(wrapped[0]!.victims).toEqual([{ pid: pyPid, comm: 'python3', main: false }]);
    expect(wrapped[0]!.leaf_events_delta).toMatchObject({ oom_kill: 1, oom_group_kill: 0 });
    expect(wrapped[0]!.leaf_events_delta.oom).toBeGreaterThanOrEqual(1);

    const workerPids = [...text.matchAll(/^worker (\d+) died -9$/gm)].map((m) => Number(m[1]));
    expect(workerPids).toHaveLength(2);
    const master = of(events, 'child.oom_killed', 'master');
    expect(master).toHaveLength(2);
    for (const k of master) expect(k).toMatchObject({ evidence: 'leaf', main_killed: false, oom_kills: 1 });
    expect(master.map((k) => k.victims[0].pid).sort()).toEqual([...workerPids].sort());
    for (const p of ['wrapped', 'master']) {
      expect(of(events, 'child.spawn', p)).toHaveLength(1);
      expect(of(events, 'child.exit', p).every((e) => e.stop_reason === 'shutdown')).toBe(true);
    }
    // Hierarchical: the container's counter saw exactly these three kills, and nothing else was reported.
    expect(report['oom_kill']).toBe(3);
    expect(of(events, 'child.oom_killed')).toHaveLength(3);
    expect(report['local_oom_kill']).toBe(0);
  });

  it('read-only pod: the container\'s counter rises, the program whose python vanished then is named; the shell lives on', { timeout: 600_000 }, async () => {
    const { report, text, events } = await scenario('ro');
    const kills = of(events, 'child.oom_killed');
    console.log(`[ro] report ${JSON.stringify(report)}; oom events ${JSON.stringify(kills.map((e) => [e.program, e.evidence, e.attribution, e.victims]))}`);
    cleanExit(report, events);
    expect(text).toContain('died 137');
    expect(report['oom_kill']).toBe(1);
    expect(kills).toHaveLength(1);
    const pyPid = Number(/^allocating (\d+)$/m.exec(text)?.[1]);
    expect(kills[0]).toMatchObject({ program: 'wrapped', evidence: 'container', attribution: 'exact', main_killed: false, oom_kills: 1, enforce: 'none' });
    expect(kills[0]!.victims).toEqual([{ pid: pyPid, comm: 'python3', main: false }]);
    expect(kills[0]!.sample.processes).toBeGreaterThanOrEqual(2);
    expect(of(events, 'child.spawn', 'wrapped')).toHaveLength(1);
    expect(of(events, 'child.spawn', 'steady')).toHaveLength(1);
  });

  it('group kill of the whole container (PID 1 survives): every victim is child.oom_killed, evidence container, one kill each', { timeout: 600_000 }, async () => {
    const { report, events } = await scenario('group');
    const kills = of(events, 'child.oom_killed');
    console.log(`[group] report ${JSON.stringify(report)}; oom events ${JSON.stringify(kills.map((e) => [e.program, e.evidence, e.oom_kills, e.leaf_events_delta, e.sample?.rss_bytes]))}`);
    expect(report['exit']).toBe(0);
    expect(of(events, 'supervisor.error')).toEqual([]);
    expect(report['local_oom_group_kill']).toBe(1);
    expect(of(events, 'child.killed')).toEqual([]);
    expect(kills.map((k) => k.program).sort()).toEqual(['a', 'b', 'c', 'leaker']); // and no program: null
    for (const k of kills) {
      expect(k).toMatchObject({ evidence: 'container', oom_kills: 1, main_killed: true, enforce: 'cgroup' });
      expect(k.victims).toEqual([expect.objectContaining({ pid: k.pid, main: true })]);
      // The forensics are of the living process, not of the dying one.
      expect(k.sample.rss_bytes).toBeGreaterThan(0);
    }
    // Each SIGKILL exit is one of the reported victims.
    const exits = of(events, 'child.exit').filter((e) => e.signal === 'SIGKILL');
    expect(exits.map((e) => e.program).sort()).toEqual(['a', 'b', 'c', 'leaker']);
    expect(of(events, 'child.oom_killed', 'leaker')[0]!.sample.rss_bytes).toBeGreaterThan(100 * MiB);
  });

  it('tiny caps (1 byte, 64 KiB) at run time: PID 1 is inside the leaf only while it has no limit; the kernel kills the child in its leaf; PID 1 lives on; the leaves go', { timeout: 600_000 }, async () => {
    const r = await vm;
    const text = r.files['tiny/out.json'] ?? '';
    if (!text.trim()) throw new Error(`no output from the tiny container; stderr: ${r.files['tiny/stderr'] ?? ''}\n${r.console.slice(-2000)}`);
    const out = JSON.parse(text);
    const report = parseReport(r.files['tiny/report'] ?? '');
    console.log(`[tiny] report ${JSON.stringify(report)}; ${JSON.stringify(out)}`);
    expect(out.error).toBeUndefined();
    expect(out.pid).toBe(1);
    expect(report['exit']).toBe(0); // PID 1 lived to the end and exited on its own
    expect(out.runs).toHaveLength(2);
    for (const run of out.runs) {
      expect(run.selfCgroupInside).toBe(`0::/programs/${run.program}`);
      expect(run.leafMaxInside).toBe('max');
      expect(run.selfCgroupAfter).toBe('0::/supervisor');
      expect(run.exit).toEqual({ code: null, signal: 'SIGKILL' });
      expect(run.leafExists).toBe(false);
      const kills = out.events.filter((e: any) => e.event === 'child.oom_killed' && e.program === run.program);
      expect(kills).toHaveLength(1);
      expect(kills[0]).toMatchObject({ evidence: 'leaf', main_killed: true, oom_kills: 1, victims: [expect.objectContaining({ pid: run.childPid, main: true })] });
    }
    expect(out.events.filter((e: any) => e.event === 'child.killed' || e.event === 'supervisor.error')).toEqual([]);
  });
});

