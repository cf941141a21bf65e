// 8. Log throughput: a chatty program (fixtures/chatty.py) writes N lines of
// ~100 bytes, one write(2) each, as fast as it can; the init's stdout is a pipe
// the driver drains. Lines/s = N / (arrival of the last line − the child's start
// stamp). Compared with the same child and no init, with the supervisor's
// `output: inherit` (the child writes straight to the pipe) and `output: json`
// (each line re-framed as a JSON record by the supervisor), and with the peers
// (supervisord copies from its own pipes to stdout_logfile=/dev/stdout; pm2-runtime prints its apps' output).
import { fixture } from '../lib/fixtures.mjs';
import { isAvailable } from '../lib/inits.mjs';
import { CLK_TCK, cpuTicks } from '../lib/proc.mjs';
import { startSession } from '../lib/session.mjs';
import { rotate, summarize } from '../lib/stats.mjs';

const COLS = ['bare', 'tini', 'dumb-init', 'supervisor', 'supervisor-json', 'supervisord', 'pm2'];
/** BENCH_BASELINE=path/to/an/older/supervisor.mjs adds it as two more columns (inherit, json), measured in the same rounds, taking turns. */
const BASELINE = process.env.BENCH_BASELINE;
if (BASELINE) COLS.push('baseline', 'baseline-json');
const MARK = Buffer.from('chatty ');
const END = Buffer.from('chatty-END');

async function once(id, lines) {
  let count = 0;
  let tail = Buffer.alloc(0);
  let endAt;
  let resolveEnd;
  const ended = new Promise((r) => (resolveEnd = r));
  const onStdout = (chunk, at) => {
    const buf = tail.length ? Buffer.concat([tail, chunk]) : chunk;
    let i = -1;
    while ((i = buf.indexOf(MARK, i + 1)) !== -1) {
      if (i >= tail.length - MARK.length + 1 || tail.length === 0) count++;
    }
    if (endAt === undefined && buf.indexOf(END) !== -1) {
      endAt = at;
      resolveEnd();
    }
    tail = buf.subarray(Math.max(0, buf.length - 16));
  };
  const s = startSession(id, (chan) => [{ name: 'chatty', argv: fixture('chatty', chan, lines) }], { output: id === 'supervisor-json' || id === 'baseline-json' ? 'json' : 'inherit', onStdout, restart: 'never' });
  try {
    const start = await s.chan.waitFor((l) => l.tag === 'start', 30_000);
    const init = await s.run.hostPid();
    const c0 = cpuTicks(init);
    await Promise.race([ended, new Promise((_, rej) => setTimeout(() => rej(new Error(`${id}: chatty-END never arrived (${count} lines seen)`)), 120_000))]);
    const c1 = cpuTicks(init);
    const secs = (endAt - start.ts) / 1e9;
    return { linesPerS: lines / secs, seen: count, initCpuS: c1 !== undefined && c0 !== undefined ? (c1 - c0) / CLK_TCK : undefined };
  } finally {
    await s.close();
  }
}

export async function run({ p, peers, log }) {
  const cols = COLS.filter((c) => isAvailable(c, peers));
  const res = Object.fromEntries(cols.map((c) => [c, []]));
  for (let r = 0; r < p.logRounds; r++) {
    for (const id of rotate(cols, r)) res[id].push(await once(id, p.logLines));
    log(`logs round ${r + 1}/${p.logRounds}`);
  }
  const rate = {};
  const cpu = {};
  const notes = [];
  for (const id of cols) {
    const v = res[id].map((x) => x.linesPerS);
    rate[id] = { ...summarize(v), values: v };
    // The init's CPU seconds per million lines (tini/dumb-init/inherit: the init never touches the lines).
    const c = res[id].map((x) => (x.initCpuS / p.logLines) * 1e6);
    if (id !== 'bare') cpu[id] = { ...summarize(c), values: c };
    const short = res[id].filter((x) => x.seen < p.logLines);
    if (short.length) notes.push(`${id}: only ${short.map((x) => x.seen).join(', ')} of ${p.logLines} lines arrived before chatty-END`);
  }
  return {
    title: 'Log throughput',
    how: `PID 1 (the no-init column: the child itself as PID 1); stdout is a pipe the driver drains. ${p.logLines.toLocaleString('en-US')} lines of ~100 bytes, one write(2) per line; ${p.logRounds} round(s), alternating.${BASELINE ? ` Baseline columns: ${BASELINE}.` : ''}`,
    columns: COLS,
    rows: [
      { label: 'lines per second through the init', unit: 'lines/s', better: 'higher', ref: 'supervisor-json', cells: rate },
      { label: "init's CPU per million lines", unit: 's', better: 'lower', ref: 'supervisor-json', cells: cpu },
    ],
    notes,
  };
}
