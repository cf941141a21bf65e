// How each init is told to run the same programs: one adapter per tool turns a
// list of programs ({name, argv}) plus what the measurement needs (restart
// policy, memory cap, output framing) into a command line and config files
// (supervisor.yaml, supervisord.conf, a pm2 ecosystem file). An adapter that
// has no such feature returns {unsupported: why}, shown as "—" in the tables.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUNDLE } from './fixtures.mjs';
import { PM2_RUNTIME } from './peers.mjs';

export const LABELS = {
  bare: 'no init',
  tini: 'tini',
  'dumb-init': 'dumb-init',
  supervisor: 'supervisor',
  'supervisor-single': 'supervisor --',
  'supervisor-json': 'supervisor (output: json)',
  'supervisor-watchdog': 'supervisor (watchdog)',
  'supervisor-cgroup': 'supervisor (cgroup)',
  supervisord: 'supervisord',
  pm2: 'pm2-runtime',
  'baseline-single': 'supervisor -- (baseline)',
  baseline: 'supervisor (baseline)',
  'baseline-json': 'supervisor (output: json, baseline)',
};

/** Which installed peer each column needs. */
const NEEDS = { tini: 'tini', 'dumb-init': 'dumb-init', supervisord: 'supervisord', pm2: 'pm2' };

export function isAvailable(id, peers) {
  const need = NEEDS[id];
  return !need || peers[need]?.available;
}

const single = (programs, what) => (programs.length === 1 ? null : { unsupported: `${what} runs one child only` });

/**
 * restart: 'default' (each tool's defaults), 'never', 'fast' (restart at once, no backoff, no crash-loop stop),
 * memory: {bytes, mode: 'watchdog'|'cgroup'}, output: 'inherit'|'json'
 */
export function buildInit(id, programs, opts, dir) {
  const restart = opts.restart ?? 'default';
  switch (id) {
    case 'bare': {
      if (programs.length !== 1) return { unsupported: 'one program only' };
      if (restart === 'fast' || opts.memory) return { unsupported: 'no init' };
      return { argv: programs[0].argv };
    }
    case 'tini':
    case 'dumb-init': {
      const one = single(programs, id);
      if (one) return one;
      if (restart === 'fast') return { unsupported: 'no restarts' };
      if (opts.memory) return { unsupported: 'no memory cap' };
      const argv = id === 'tini' ? ['tini', ...(opts.pid1 === false ? ['-s'] : []), '--', ...programs[0].argv] : ['dumb-init', ...programs[0].argv];
      return { argv };
    }
    case 'supervisor-single': {
      const one = single(programs, 'single-command mode');
      if (one) return one;
      if (restart === 'fast' || opts.memory) return { unsupported: 'single-command mode' };
      return { argv: [process.execPath, BUNDLE, '--', ...programs[0].argv] };
    }
    case 'supervisor':
    case 'supervisor-json':
    case 'supervisor-watchdog':
    case 'supervisor-cgroup':
      return supervisorConfig(id, programs, opts, dir);
    // An older bundle (BENCH_BASELINE=path/to/supervisor.mjs), as supervisor and supervisor-json.
    case 'baseline':
    case 'baseline-json':
      if (!process.env.BENCH_BASELINE) throw new Error(`${id} needs BENCH_BASELINE`);
      return supervisorConfig(id === 'baseline' ? 'supervisor' : 'supervisor-json', programs, opts, dir, process.env.BENCH_BASELINE);
    case 'supervisord':
      if (opts.output === 'json') return { unsupported: 'no JSON framing' };
      if (opts.memory) return { unsupported: 'no memory cap' };
      return supervisordConfig(programs, opts, dir);
    case 'pm2':
      if (opts.memory && opts.memory.mode === 'cgroup') return { unsupported: 'no cgroup cap' };
      return pm2Config(programs, opts, dir);
    default:
      throw new Error(`unknown init ${id}`);
  }
}

function supervisorConfig(id, programs, opts, dir, bundle = BUNDLE) {
  const restart = opts.restart ?? 'default';
  const mode = id === 'supervisor-watchdog' ? 'watchdog' : id === 'supervisor-cgroup' ? 'cgroup' : opts.memory?.mode;
  const cfg = { log: { level: 'info', format: 'json' }, termination_log: false, programs: {} };
  for (const p of programs) {
    const prog = { command: p.argv };
    if (restart === 'never') Object.assign(prog, { restart: 'never', on_exit: 'continue' });
    if (restart === 'fast') Object.assign(prog, { backoff: { initial: 0, factor: 1, max: 0 }, start_secs: 0, crash_loop: { max_restarts: 1000000, window: '1s' } });
    if (id === 'supervisor-json' || opts.output === 'json') prog.output = 'json';
    if (opts.memory) prog.memory = { max: opts.memory.bytes, enforce: mode };
    cfg.programs[p.name] = prog;
  }
  const file = join(dir, `${id}.yaml`);
  writeFileSync(file, `${JSON.stringify(cfg, null, 2)}\n`); // JSON is YAML
  return { argv: [process.execPath, bundle, '-c', file], configFile: file };
}

const shq = (s) => `'${String(s).replaceAll("'", `'"'"'`).replaceAll('%', '%%')}'`;

function supervisordConfig(programs, opts, dir) {
  const restart = opts.restart ?? 'default';
  const lines = [
    '[supervisord]',
    'nodaemon=true',
    'logfile=/dev/null',
    'logfile_maxbytes=0',
    `pidfile=${join(dir, 'supervisord.pid')}`,
    'user=root',
    '',
  ];
  for (const p of programs) {
    lines.push(`[program:${p.name}]`, `command=${p.argv.map(shq).join(' ')}`);
    // Children's output through supervisord to its stdout (the container log).
    lines.push('stdout_logfile=/dev/stdout', 'stdout_logfile_maxbytes=0', 'redirect_stderr=true');
    if (restart === 'never') lines.push('autorestart=false');
    if (restart === 'fast') lines.push('autorestart=true', 'startsecs=0', 'startretries=1000000');
    lines.push('');
  }
  const file = join(dir, 'supervisord.conf');
  writeFileSync(file, lines.join('\n'));
  return { argv: ['supervisord', '-c', file], configFile: file };
}

function pm2Config(programs, opts, dir) {
  const restart = opts.restart ?? 'default';
  const apps = programs.map((p) => {
    const app = { name: p.name, script: p.argv[0], args: p.argv.slice(1), interpreter: 'none' };
    if (restart === 'never') app.autorestart = false;
    if (restart === 'fast') Object.assign(app, { autorestart: true, restart_delay: 0, min_uptime: 0, max_restarts: 1000000 });
    if (opts.memory) app.max_memory_restart = `${Math.round(opts.memory.bytes / 1048576)}M`;
    return app;
  });
  const file = join(dir, 'ecosystem.config.js');
  writeFileSync(file, `module.exports = ${JSON.stringify({ apps }, null, 2)};\n`);
  return { argv: [process.execPath, PM2_RUNTIME, 'start', file], env: { PM2_HOME: join(dir, 'pm2home') }, configFile: file };
}
