// 6. Shutdown, as PID 1: SIGTERM to the init → the init's namespace is empty
// (unshare returns only once PID 1 is gone, and the kernel has then killed
// and reaped everything left in the namespace). Three programs: one that exits
// at once on SIGTERM (fixtures/stamp.py), one that ignores SIGTERM
// (fixtures/stubborn.py: how long until the init SIGKILLs it, if ever), and one
// whose grandchild runs in its own session and needs 300 ms to clean up after
// SIGTERM (fixtures/family.py: does the init signal it and wait for it?).
import { nowNs, sleep } from '../lib/clock.mjs';
import { fixture } from '../lib/fixtures.mjs';
import { isAvailable } from '../lib/inits.mjs';
import { startSession } from '../lib/session.mjs';
import { rotate, summarize } from '../lib/stats.mjs';

const COLS = ['tini', 'dumb-init', 'supervisor-single', 'supervisor', 'supervisord', 'pm2'];

/** Each tool's default grace between the stop signal and SIGKILL (from its docs; the stubborn row shows it happen). */
export const GRACE = {
  tini: 'none: forwards SIGTERM and waits for the child forever',
  'dumb-init': 'none: forwards SIGTERM and waits for the child forever',
  'supervisor-single': 'relays SIGTERM; SIGKILL after stop_grace 10 s (unlike tini)',
  supervisor: 'stop_grace 10 s, then SIGKILL (shutdown_timeout 25 s)',
  supervisord: 'stopwaitsecs 10 s, then SIGKILL',
  pm2: 'kill_timeout 1.6 s (SIGINT first), then SIGKILL',
};

async function stopOnce(id, prog, timeoutMs, ready = 'start') {
  const s = startSession(id, (chan) => [{ name: prog, argv: fixture(prog, chan) }]);
  try {
    await s.chan.waitFor((l) => l.tag === ready, 30_000);
    await sleep(1100); // past every init's "started" mark (start_secs, startsecs: 1 s)
    const t = nowNs();
    await s.run.signal('SIGTERM');
    const r = await Promise.race([s.run.exited, sleep(timeoutMs).then(() => undefined)]);
    await sleep(50); // channel lines still in flight
    return { ms: r ? (r.at - t) / 1e6 : undefined, lines: s.chan.lines.map((l) => ({ tag: l.tag, dt: (l.ts - t) / 1e6, words: l.words.slice(2) })) };
  } finally {
    await s.close();
  }
}

function familyVerdict(r) {
  const sig = r.lines.find((l) => l.tag === 'gsig');
  const clean = r.lines.find((l) => l.tag === 'gclean');
  if (sig && clean) return { text: `yes: got ${sig.words[0]}, finished its cleanup`, waited: true };
  if (sig) return { text: `no: got ${sig.words[0]}, killed mid-cleanup`, waited: false };
  return { text: 'no: never signalled, SIGKILLed when PID 1 exited', waited: false };
}

export async function run({ p, peers, log }) {
  const cols = COLS.filter((c) => isAvailable(c, peers));
  const quick = Object.fromEntries(cols.map((c) => [c, []]));
  for (let r = 0; r < p.shutdownRounds; r++) {
    for (const id of rotate(cols, r)) {
      const res = await stopOnce(id, 'stamp', 30_000);
      if (res.ms !== undefined) quick[id].push(res.ms);
    }
    log(`shutdown (quick exit) round ${r + 1}/${p.shutdownRounds}`);
  }
  // Both are dominated by timers: every init at once, both programs at once.
  const stubborn = Object.fromEntries(cols.map((c) => [c, []]));
  const family = Object.fromEntries(cols.map((c) => [c, []]));
  for (let r = 0; r < Math.max(p.stubbornRounds, p.familyRounds); r++) {
    const jobs = [];
    if (r < p.stubbornRounds) jobs.push(...cols.map((id) => stopOnce(id, 'stubborn', p.stubbornTimeoutMs).then((x) => stubborn[id].push(x.ms))));
    if (r < p.familyRounds) jobs.push(...cols.map((id) => stopOnce(id, 'family', p.stubbornTimeoutMs, 'gready').then((x) => family[id].push({ ms: x.ms, ...familyVerdict(x) }))));
    await Promise.all(jobs);
    log(`shutdown (ignores SIGTERM; grandchild) round ${r + 1}`);
  }
  const cells = { quick: {}, stubborn: {}, grace: {}, gwait: {}, gtime: {} };
  for (const id of cols) {
    cells.quick[id] = { ...summarize(quick[id]), values: quick[id] };
    const done = stubborn[id].filter((x) => x !== undefined);
    cells.stubborn[id] =
      done.length === stubborn[id].length
        ? { ...summarize(done), values: done }
        : { text: `never: still waiting after ${p.stubbornTimeoutMs / 1000} s (${stubborn[id].length - done.length} of ${stubborn[id].length} runs)` };
    cells.grace[id] = { text: GRACE[id] };
    const verdicts = [...new Set(family[id].map((f) => f.text))];
    cells.gwait[id] = { text: verdicts.join(' / ') };
    const ft = family[id].map((f) => f.ms).filter((x) => x !== undefined);
    cells.gtime[id] = ft.length ? { ...summarize(ft), values: ft } : { text: 'did not exit' };
  }
  return {
    title: 'Shutdown',
    how: `PID 1. SIGTERM to the init → the init has exited and its PID namespace is empty. Quick exit: ${p.shutdownRounds} rounds, alternating. Ignoring SIGTERM and grandchild: ${p.stubbornRounds} and ${p.familyRounds} round(s), all inits side by side (the times are dominated by timers).`,
    columns: COLS,
    rows: [
      { label: 'child exits at once on SIGTERM: SIGTERM → all gone', unit: 'ms', better: 'lower', cells: cells.quick },
      { label: 'child ignores SIGTERM: SIGTERM → all gone', unit: 'ms', better: 'lower', noRatio: true, cells: cells.stubborn },
      { label: 'grace before SIGKILL (default)', unit: '', noRatio: true, cells: cells.grace },
      { label: 'waits for a grandchild in its own session?', unit: '', noRatio: true, cells: cells.gwait },
      { label: 'with that grandchild: SIGTERM → all gone', unit: 'ms', better: 'lower', noRatio: true, cells: cells.gtime },
    ],
    notes: [],
  };
}
