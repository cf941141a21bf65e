// Writes docs/benchmarks.md (and docs/benchmarks-memory-cap.svg) from a results
// JSON: machine, date and command, the method, the findings (with the figures
// of this run, including where a peer wins), and every suite's table.
// `npm run bench -- --write-docs` measures and writes; `--docs-from FILE` only writes.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../lib/fixtures.mjs';
import { fmt } from '../lib/stats.mjs';
import { cellText, label, usedColumns } from './format.mjs';
import { memcapSvg } from './svg.mjs';

const SVG = 'benchmarks-memory-cap.svg';

function table(result) {
  const cols = usedColumns(result);
  const esc = (s) => String(s).replaceAll('|', '\\|');
  const out = [`| | ${cols.map((c) => esc(label(c))).join(' | ')} |`, `|---|${cols.map(() => '---').join('|')}|`];
  for (const r of result.rows) out.push(`| ${esc(r.label)} | ${cols.map((c) => esc(cellText(r, c))).join(' | ')} |`);
  return out.join('\n');
}

/** Median of a row's cell, found by the start of its label. */
function med(results, suite, labelStart, col) {
  const row = results.suites[suite]?.rows?.find((r) => r.label.startsWith(labelStart));
  const c = row?.cells?.[col];
  return c && c.n ? c.median : undefined;
}
function text(results, suite, labelStart, col) {
  const row = results.suites[suite]?.rows?.find((r) => r.label.startsWith(labelStart));
  return row?.cells?.[col]?.text;
}

function findings(R) {
  const f = [];
  const add = (fn) => {
    try {
      const s = fn();
      if (s) f.push(s);
    } catch {
      // a figure is missing in this run: no sentence about it
    }
  };
  add(() => {
    const ours = med(R, 'footprint', 'RSS of the init, 1 program', 'supervisor');
    const tini = med(R, 'footprint', 'RSS of the init, 1 program', 'tini');
    const dumb = med(R, 'footprint', 'RSS of the init, 1 program', 'dumb-init');
    const sd = med(R, 'footprint', 'RSS of the init, 1 program', 'supervisord');
    const pm2 = med(R, 'footprint', 'RSS of the init, 1 program', 'pm2');
    const node = med(R, 'startup', 'one-shot peak RSS', 'node');
    if (ours === undefined || tini === undefined) return undefined;
    return (
      `**Footprint: tini and dumb-init win by far.** Idle with one program the supervisor's own RSS is ${fmt(ours)} MiB against tini's ${fmt(tini)} MiB` +
      `${dumb !== undefined ? ` and dumb-init's ${fmt(dumb)} MiB` : ''} (about ${Math.round(ours / tini)}× tini). That is the price of being a Node program: ` +
      `${node !== undefined ? `\`node -e 0\` alone peaks at ${fmt(node)} MiB, so ` : ''}most of it is the V8 runtime, not the supervisor's own code; in exchange it ` +
      `restarts programs, caps their memory, frames logs and writes events, which tini and dumb-init do not do at all. ` +
      `Among the tools that supervise several programs it is in the same range${sd !== undefined ? ` (supervisord, Python: ${fmt(sd)} MiB` : ''}${pm2 !== undefined ? `; pm2-runtime, also Node: ${fmt(pm2)} MiB)` : sd !== undefined ? ')' : ''}.`
    );
  });
  add(() => {
    const w = med(R, 'footprint', 'CPU of the init, 8 programs, memory watched', 'supervisor-watchdog');
    const c = med(R, 'footprint', 'CPU of the init, 8 programs, memory watched', 'supervisor-cgroup');
    const p = med(R, 'footprint', 'CPU of the init, 8 programs, memory watched', 'pm2');
    const idle = med(R, 'footprint', 'CPU of the init, 1 program', 'supervisor');
    const tiniIdle = med(R, 'footprint', 'CPU of the init, 1 program', 'tini');
    const sdIdle = med(R, 'footprint', 'CPU of the init, 1 program', 'supervisord');
    if (w === undefined) return undefined;
    return (
      `**CPU:** idle, the supervisor uses ${fmt(idle)} % of a core (its once-a-second orphan sweep and Node's own housekeeping), tini ${fmt(tiniIdle)} %, supervisord ${fmt(sdIdle)} %. ` +
      `Watching 8 programs' memory every 250 ms takes ${fmt(w)} % (cgroup mode, which still samples the trees for its events: ${fmt(c)} %); pm2-runtime uses ${fmt(p)} %, but it looks only every 30 s.`
    );
  });
  add(() => {
    const ours = med(R, 'startup', "init's share", 'supervisor');
    const tini = med(R, 'startup', "init's share", 'tini');
    const pm2 = med(R, 'startup', "init's share", 'pm2');
    const sd = med(R, 'startup', "init's share", 'supervisord');
    const node = med(R, 'startup', 'one-shot `INIT -- /bin/true`', 'node');
    const single = med(R, 'startup', 'one-shot `INIT -- /bin/true`', 'supervisor-single');
    if (ours === undefined) return undefined;
    return (
      `**Start-up: tini adds ${fmt(tini)} ms before the first child runs, the supervisor ${fmt(ours)} ms.** ` +
      `${node !== undefined && single !== undefined ? `A bare \`node -e 0\` runs in ${fmt(node)} ms and \`supervisor -- /bin/true\` in ${fmt(single)} ms, so about ${fmt(node)} ms is Node's own start and ${fmt(single - node)} ms the supervisor's: mostly evaluating the modules of its run path (yargs parsing the command line, pino, the supervision and memory modules; in config mode also zod and yaml), as the start-up section below breaks down. ` : ''}` +
      `${pm2 !== undefined ? `pm2-runtime takes ${fmt(pm2)} ms. ` : ''}${sd !== undefined ? `supervisord takes ${fmt(sd)} ms: it spawns programs only on its first 1 s loop tick.` : ''}`
    );
  });
  add(() => {
    const rows = R.suites.node?.rows ?? [];
    const parts = [];
    for (const r of rows.filter((x) => x.label.endsWith(': one-shot start → exit'))) {
      const version = r.label.split(':')[0];
      const node = r.cells.node?.median;
      const single = r.cells['supervisor-single']?.median;
      const config = r.cells.supervisor?.median;
      const anon = rows.find((x) => x.label === `${version}: idle anonymous RSS`)?.cells;
      const cpu = rows.find((x) => x.label === `${version}: CPU time of that run`)?.cells;
      if (node === undefined || single === undefined) continue;
      parts.push(
        `Node ${version.slice(1)}: \`node -e 0\` ${fmt(node)} ms, \`supervisor -- /bin/true\` ${fmt(single)} ms (${fmt(single / node)}×)` +
          `${config !== undefined ? `, config mode ${fmt(config)} ms (${fmt(config / node)}×)` : ''}` +
          `${cpu?.node?.n && cpu?.['supervisor-single']?.n ? `, CPU ${fmt(cpu.node.median)} / ${fmt(cpu['supervisor-single'].median)} ms (${fmt(cpu['supervisor-single'].median / cpu.node.median)}×)` : ''}` +
          `${anon?.node?.n && anon?.['supervisor-single']?.n ? `; idle anonymous RSS ${fmt(anon['supervisor-single'].median)} MiB against bare Node's ${fmt(anon.node.median)} MiB` : ''}`,
      );
    }
    if (parts.length === 0) return undefined;
    return `**Per Node version** (start to exit, not PID 1; wall times move a lot with the machine's load, CPU times less; see the table): ${parts.join('; ')}.`;
  });
  add(() => {
    const ours = med(R, 'signals', 'p50', 'supervisor');
    const tini = med(R, 'signals', 'p50', 'tini');
    const p99 = med(R, 'signals', 'p99', 'supervisor');
    const sdDash = R.suites.signals?.rows?.[0]?.cells?.supervisord?.dash;
    const pmDash = R.suites.signals?.rows?.[0]?.cells?.pm2?.dash;
    if (ours === undefined || tini === undefined) return undefined;
    return `**Signals: forwarded in ${fmt(ours)} ms at the median (p99 ${fmt(p99)} ms), against tini's ${fmt(tini)} ms**, both far below anything a program would notice. ${sdDash ? 'supervisord does not forward SIGUSR1 (it reopens its logs). ' : ''}${pmDash ? 'pm2-runtime does not forward it either.' : ''}`;
  });
  add(() => {
    const ours = med(R, 'reaping', 'time until no zombie left', 'supervisor');
    const tini = med(R, 'reaping', 'time until no zombie left', 'tini');
    const sd = med(R, 'reaping', 'time until no zombie left', 'supervisord') ?? text(R, 'reaping', 'time until no zombie left', 'supervisord');
    const pm2 = text(R, 'reaping', 'time until no zombie left', 'pm2') ?? med(R, 'reaping', 'time until no zombie left', 'pm2');
    if (ours === undefined) return undefined;
    const n = R.meta.params.orphans.toLocaleString('en-US');
    return (
      `**Reaping ${n} orphans at once: ${fmt(ours)} ms for the supervisor, ${fmt(tini)} ms for tini** (upper bounds, see the table). ` +
      `supervisord: ${typeof sd === 'number' ? `${fmt(sd / 1000)} s` : sd} (its reap() stops after 100 waitpid calls per pass of its 1 s loop). ` +
      `pm2-runtime: ${typeof pm2 === 'number' ? `${fmt(pm2)} ms` : pm2}${String(pm2).startsWith('never') ? ': it does not reap orphans, they stay zombies until the container ends' : ''}.`
    );
  });
  add(() => {
    const ours = med(R, 'restart', 'crash → new child', 'supervisor');
    const pm2 = med(R, 'restart', 'crash → new child', 'pm2');
    const sd = med(R, 'restart', 'crash → new child', 'supervisord');
    if (ours === undefined) return undefined;
    return `**Restarts without backoff: ${fmt(ours)} ms from crash to the new child running** (pm2-runtime ${fmt(pm2)} ms, supervisord ${fmt(sd)} ms: it notices exits on its 1 s loop tick). Under a crash loop with defaults the supervisor backs off 1 s, 2 s, 4 s… and turns the program fatal (then shuts down, so the pod restarts); see the table.`;
  });
  add(() => {
    const ours = med(R, 'shutdown', 'child exits at once', 'supervisor');
    const tini = med(R, 'shutdown', 'child exits at once', 'tini');
    const rows = R.suites.shutdown.rows;
    const stub = rows.find((r) => r.label.startsWith('child ignores SIGTERM'));
    const fam = rows.find((r) => r.label.startsWith('waits for a grandchild'));
    const names = (pred) => Object.entries(fam.cells).filter(([, c]) => pred(c)).map(([id]) => label(id));
    const never = Object.entries(stub.cells).filter(([, c]) => c.text?.startsWith('never')).map(([id]) => label(id));
    const oursStub = stub.cells.supervisor?.n ? stub.cells.supervisor.median : undefined;
    return (
      `**Shutdown: tini is done in ${fmt(tini)} ms, the supervisor in ${fmt(ours)} ms** when the child exits at once. ` +
      `With a child that ignores SIGTERM, ${never.length ? `${never.join(' and ')} never exit (the runtime's own SIGKILL has to end them); ` : ''}` +
      `${oursStub !== undefined ? `the supervisor SIGKILLs the child after its stop_grace (${fmt(oursStub / 1000)} s in all). ` : ''}` +
      `A grandchild that left the program's process group is signalled and waited for by ${names((c) => c.text?.startsWith('yes')).join(', ') || 'none'}; ` +
      `${names((c) => c.text?.startsWith('no')).join(', ') || 'none'} exit without it, and the kernel SIGKILLs it mid-cleanup when PID 1 is gone.`
    );
  });
  add(() => {
    const rates = R.meta.params.leakRates;
    const parts = rates.map((rate) => {
      const w = med(R, 'memcap', `${rate} MiB/s: cap crossed`, 'supervisor-watchdog');
      const wo = med(R, 'memcap', `${rate} MiB/s: peak RSS`, 'supervisor-watchdog');
      const c = med(R, 'memcap', `${rate} MiB/s: cap crossed`, 'supervisor-cgroup');
      const p = med(R, 'memcap', `${rate} MiB/s: cap crossed`, 'pm2') ?? text(R, 'memcap', `${rate} MiB/s: cap crossed`, 'pm2');
      const po = med(R, 'memcap', `${rate} MiB/s: peak RSS`, 'pm2');
      return `at ${rate} MiB/s the watchdog stops the leak ${fmt(w)} ms after it crosses the cap (${fmt(wo)} MiB over), the cgroup cap ${fmt(c)} ms after the kernel's kill, pm2 ${typeof p === 'number' ? `${fmt(p / 1000)} s` : p}${po !== undefined ? ` (${fmt(po)} MiB over)` : ''}`;
    });
    return `**Memory caps:** ${parts.join('; ')}. The watchdog's overshoot is up to the leak rate × its 250 ms poll, depending on where in the period the cap is crossed; the cgroup cap is exact (the kernel kills at the limit, the time is the victim's own exit); pm2 checks only the main pid, every 30 s, so a fast leak goes far past the cap (here up to the leak's ${R.meta.params.ceilingMiB} MiB safety ceiling).`;
  });
  add(() => {
    const bare = med(R, 'logs', 'lines per second', 'bare');
    const inh = med(R, 'logs', 'lines per second', 'supervisor');
    const json = med(R, 'logs', 'lines per second', 'supervisor-json');
    const pm2 = med(R, 'logs', 'lines per second', 'pm2');
    const sd = med(R, 'logs', 'lines per second', 'supervisord');
    if (json === undefined) return undefined;
    const cpu = med(R, 'logs', "init's CPU per million lines", 'supervisor-json');
    return `**Logs: \`output: inherit\` costs nothing** (${fmt(inh)} lines/s, no init: ${fmt(bare)}: the child writes to the pipe itself). **\`output: json\` is the slow path: ${fmt(json)} lines/s**; the framing itself costs ${fmt(cpu)} s of CPU per million lines${(json * cpu) / 1e6 < 0.5 ? ', the rest is a stall (see "Problems")' : ` (busy ${fmt(((json * cpu) / 1e6) * 100)} % of the time: it is CPU-bound, reading, parsing and re-writing every line)`}. pm2-runtime passes ${fmt(pm2)} lines/s; supervisord copies raw bytes in big chunks: ${fmt(sd)} lines/s. Chatty programs that do not need the framing should keep \`inherit\`.`;
  });
  return f;
}

/** Problems the figures show, stated only when this run's figures show them. */
function problems(R) {
  const out = [];
  try {
    const inh = med(R, 'logs', 'lines per second', 'supervisor');
    const json = med(R, 'logs', 'lines per second', 'supervisor-json');
    const cpu = med(R, 'logs', "init's CPU per million lines", 'supervisor-json');
    if (json !== undefined && inh !== undefined && cpu !== undefined && json < 0.2 * inh && (json * cpu) / 1e6 < 0.5) {
      out.push(
        `**Supervisor, \`output: json\` into a pipe stalls.** ${fmt(json)} lines/s, while framing costs only ${fmt(cpu)} s of CPU per million lines (it is busy ${fmt(((json * cpu) / 1e6) * 100)} % of the time): ` +
          'the supervisor is waiting, not working. Reading `process.stdout.isTTY` at start makes Node put fd 1 in O_NONBLOCK mode (a pipe becomes a libuv stream); ' +
          "the synchronous pino/sonic-boom sink then gets EAGAIN whenever the pipe is momentarily full and sleeps 100 ms (sonic-boom's BUSY_WRITE_TIMEOUT, Atomics.wait), " +
          'freezing the whole event loop, signal forwarding and reaping included. With `output: inherit` a child spawned with the inherited fds clears O_NONBLOCK again (libuv does that for fds 0–2 of a child), so only all-json setups show it. ' +
          'Repro: a program printing 100,000 lines with `output: json`; `supervisor -c j.yaml > /dev/null` takes 0.5 s, `supervisor -c j.yaml | cat > /dev/null` 5 s with the same CPU time.',
      );
    }
  } catch {
    // no figures
  }
  try {
    const loop = R.suites.restart.rows.find((r) => r.label.startsWith('crash loop')).cells.supervisord.raw;
    if (loop && loop.starts > 4) {
      out.push(
        `**supervisord, crash loop:** a program that dies within ~20 ms was started ${loop.starts} times before supervisord gave up (defaults startsecs=1, startretries=3 promise 4): ` +
          'it notices a child\'s exit only at its next 1 s loop tick (Python retries the interrupted poll after SIGCHLD), by which time the run has "stayed up for > than 1 seconds" and counts as a successful start.',
      );
    }
  } catch {
    // no figures
  }
  return out;
}

export function renderDocs(R) {
  const m = R.meta;
  const peers = Object.entries(m.peers)
    .map(([k, v]) => `${k} ${v.available ? (v.version ?? '') : `(skipped: ${v.note})`}`.trim())
    .join(', ');
  const out = [];
  out.push('# Benchmarks');
  out.push('');
  out.push('<!-- Generated by `npm run bench -- --write-docs` (scripts/bench/report/docs.mjs). Do not edit by hand: run it again. -->');
  out.push('');
  out.push(
    `The supervisor against the tools people put at PID 1 today: **tini** and **dumb-init** (minimal inits), **supervisord** and **pm2-runtime** (process managers). ` +
      `Figures of one ${m.mode} run on ${m.date.slice(0, 10)}, ${m.machine.cores} cores (${m.machine.cpu}), ${m.machine.memGiB} GiB, Linux ${m.machine.kernel}, Node ${m.machine.node}; ` +
      `the machine is shared and noisy, so read medians and spreads, not single digits. Command: \`${m.command}\` (took ${Math.round(m.seconds / 60)} min)` +
      `${m.git?.commit ? `, bundle built from commit ${m.git.commit}${m.git.srcDirty ? ' plus edits in src/ not yet committed at the time' : ''}` : ''}.`,
  );
  out.push('');
  out.push(`Versions: ${peers}.`);
  out.push('');
  out.push('## Findings');
  out.push('');
  for (const s of findings(R)) out.push(`- ${s}`);
  out.push('');
  const probs = problems(R);
  if (probs.length) {
    out.push('## Problems these runs show');
    out.push('');
    for (const x of probs) out.push(`- ${x}`);
    out.push('');
  }
  out.push('## How to read and rerun');
  out.push('');
  out.push('```sh');
  out.push('npm run bench                  # everything (~20 min), tables on stdout, JSON in bench-results/');
  out.push('npm run bench -- --quick       # or npm run bench:quick: a ~3 min smoke run for CI; figures not judged');
  out.push('npm run bench -- --write-docs  # also regenerate this page and its chart');
  out.push('npm run bench -- --only signals,reaping   # some suites only');
  out.push('```');
  out.push('');
  out.push(
    '- Each cell: **median (spread)**, where the spread is p10–p90 with 10 or more values, else min–max; "ours ×R" = the supervisor\'s median ÷ that column\'s median ' +
      '(for times and memory, R > 1 means the supervisor is slower or bigger). "—" = the tool has no such feature (no made-up figure).',
  );
  out.push('- "supervisor" is config mode (`-c supervisor.yaml`), "supervisor --" is single-command mode (`supervisor -- CMD`, like tini).');
  out.push(
    `- One clock on both sides: CLOCK_MONOTONIC. The driver reads \`process.hrtime.bigint()\`, the children (small Python scripts in \`scripts/bench/fixtures/\`, run by /usr/bin/python3 -S -I) \`time.monotonic_ns()\`; ` +
      `checked at every run (a child's reading must fall between two of the driver's: ${m.clock?.ok ? 'it did' : 'IT DID NOT'}). Children report on a FIFO, so the driver never polls for them.`,
  );
  out.push('- PID 1 means a new PID namespace: `unshare --pid --fork --mount-proc --kill-child INIT …` (what a container runtime does), its stdout/stderr real pipes (FIFOs) the driver drains. unshare\'s exit status is not used (util-linux 2.38.1 sometimes reports 1 instead of the child\'s status).');
  out.push('- Peers take turns (A B C, then B C A…) so the machine\'s drift hits all of them; where a measurement is dominated by timers, they run side by side. Each table says which.');
  out.push('- Whole processes are measured with public tools: /proc (VmRSS, utime+stime, children), hyperfine and /usr/bin/time -v.');
  out.push('');
  const order = ['startup', 'footprint', 'node', 'signals', 'reaping', 'restart', 'shutdown', 'memcap', 'logs'];
  for (const key of order) {
    const s = R.suites[key];
    if (!s) continue;
    out.push(`## ${s.title}`);
    out.push('');
    if (s.error) {
      out.push(`This suite crashed in this run: \`${s.error.split('\n')[0]}\``);
      out.push('');
      continue;
    }
    out.push(s.how);
    out.push('');
    out.push(table(s));
    out.push('');
    for (const n of s.notes ?? []) out.push(`- ${n}`);
    if (s.notes?.length) out.push('');
    if (key === 'memcap') {
      out.push(`![${s.title}](${SVG})`);
      out.push('');
    }
  }
  out.push('## Limits of these figures');
  out.push('');
  out.push('- A shared 2-core VM: background load moves single runs by tens of ms; medians over alternating runs are what to compare.');
  out.push('- Start-up and restart times include python3\'s own start (~10 ms), the same for every tool (the "no init" column shows it).');
  out.push('- The memory-cap stop time is known to ±2 ms (the driver\'s sampling); the cgroup "kill → event" time is the supervisor\'s detection after the driver saw the process dead, so it can be slightly negative.');
  out.push('- pm2-runtime\'s max_memory_restart is checked by its worker every 30 s (PM2_WORKER_INTERVAL, left at its default): its stop time depends on where in that period the cap is crossed.');
  out.push('');
  return `${out.join('\n')}\n`;
}

export const KEEP_MARKER = '<!-- Measured outside `npm run bench`: everything below is kept as it is by --write-docs. -->';

/** Writes the page and the chart; returns their paths. */
export function writeDocs(R) {
  mkdirSync(join(ROOT, 'docs'), { recursive: true });
  const md = join(ROOT, 'docs/benchmarks.md');
  const written = [];
  // Sections measured outside `npm run bench` (VM runs, one-off scripts) follow KEEP_MARKER and are kept as they are.
  const old = existsSync(md) ? readFileSync(md, 'utf8') : '';
  const kept = old.includes(KEEP_MARKER) ? `\n${old.slice(old.indexOf(KEEP_MARKER))}` : '';
  writeFileSync(md, renderDocs(R) + kept);
  written.push(md);
  const mc = R.suites.memcap;
  if (mc?.runs) {
    const svg = join(ROOT, 'docs', SVG);
    writeFileSync(svg, memcapSvg(mc, R.meta.params));
    written.push(svg);
  }
  return written;
}
