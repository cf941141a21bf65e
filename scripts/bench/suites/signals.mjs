// 3. Signal forwarding latency: the driver sends SIGUSR1 to the init's host pid
// (as `docker kill -s USR1` does) and notes CLOCK_MONOTONIC; the child's Python
// handler (fixtures/sigrec.py) writes the same clock when it runs. One signal
// at a time, the next after the previous arrived plus 1–5 ms. All inits run
// side by side as PID 1 and take turns, a block of signals each, A B C … A B C.
import { sleep, nowNs } from '../lib/clock.mjs';
import { fixture } from '../lib/fixtures.mjs';
import { isAvailable } from '../lib/inits.mjs';
import { alive } from '../lib/proc.mjs';
import { startSession } from '../lib/session.mjs';
import { rotate, summarize } from '../lib/stats.mjs';

const COLS = ['tini', 'dumb-init', 'supervisor-single', 'supervisor', 'supervisord', 'pm2'];
const SIGNAL = 'SIGUSR1';

export async function run({ p, peers, log }) {
  const cols = COLS.filter((c) => isAvailable(c, peers));
  const sessions = {};
  const lat = {};
  const state = {};
  try {
    for (const id of cols) {
      sessions[id] = startSession(id, (chan) => [{ name: 'sigrec', argv: fixture('sigrec', chan, SIGNAL) }]);
      lat[id] = [];
      state[id] = { sent: 0, got: 0, lost: 0, forwarded: undefined };
    }
    await Promise.all(cols.map((id) => sessions[id].chan.waitFor((l) => l.tag === 'ready', 30_000)));
    await sleep(1500); // past every init's "started" mark (start_secs, startsecs)
    const pids = Object.fromEntries(await Promise.all(cols.map(async (id) => [id, await sessions[id].run.hostPid()])));
    const perBlock = Math.ceil(p.signalCount / p.signalRounds);
    for (let r = 0; r < p.signalRounds; r++) {
      for (const id of rotate(cols, r)) {
        const st = state[id];
        if (st.forwarded === false) continue;
        for (let i = 0; i < perBlock && st.sent < p.signalCount; i++) {
          if (!alive(pids[id])) {
            st.died = true;
            break;
          }
          const t = nowNs();
          process.kill(pids[id], SIGNAL);
          st.sent++;
          try {
            const line = await sessions[id].chan.waitFor((l) => l.tag === 'sig', st.got === 0 ? 2000 : 1000, st.got + 1);
            st.got++;
            st.forwarded = true;
            lat[id].push((line.ts - t) / 1e6);
          } catch {
            st.lost++;
            if (st.got === 0) {
              st.forwarded = false;
              st.initAlive = alive(pids[id]);
              break;
            }
          }
          await sleep(1 + Math.random() * 4);
        }
      }
      log(`signals round ${r + 1}/${p.signalRounds}`);
    }
  } finally {
    await Promise.all(Object.values(sessions).map((s) => s.close()));
  }
  const p50 = {};
  const p99 = {};
  const delivered = {};
  const notes = [];
  for (const id of cols) {
    const st = state[id];
    if (st.forwarded === false) {
      p50[id] = p99[id] = { dash: 'not forwarded' };
      delivered[id] = { text: `0 of ${st.sent} (init ${st.initAlive ? 'still running' : 'gone'})` };
      notes.push(`${id}: ${SIGNAL} never reached the child within 2 s; the init was ${st.initAlive ? 'still running' : 'gone'} afterwards`);
      continue;
    }
    const s = summarize(lat[id]);
    p50[id] = { n: s.n, median: s.median, lo: s.min, hi: quantileOf(lat[id], 0.9), values: lat[id] };
    p99[id] = { n: s.n, median: s.p99, lo: s.min, hi: s.max, single: true };
    delivered[id] = { text: `${st.got} of ${st.sent}${st.died ? ' (init died)' : ''}` };
  }
  return {
    title: 'Signal forwarding latency',
    how: `PID 1; ${SIGNAL} sent to the init, the child's handler time minus the send time (same clock, CLOCK_MONOTONIC). ${p.signalCount} signals per init in ${p.signalRounds} alternating blocks.`,
    columns: COLS,
    rows: [
      { label: `p50 latency (min–p90)`, unit: 'ms', better: 'lower', cells: p50 },
      { label: `p99 latency (min–max)`, unit: 'ms', better: 'lower', cells: p99 },
      { label: 'signals delivered', unit: '', noRatio: true, cells: delivered },
    ],
    notes,
  };
}

function quantileOf(values, q) {
  const v = [...values].sort((a, b) => a - b);
  const pos = (v.length - 1) * q;
  const lo = Math.floor(pos);
  return v[lo] + (v[Math.ceil(pos)] - v[lo]) * (pos - lo);
}
