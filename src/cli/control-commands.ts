// Runs a control subcommand (see control-args.ts) through the control socket's client.
import { runControl } from '../control/client.js';
import type { ControlRequest } from '../control/protocol.js';
import type { CheckName } from '../control/status.js';

export async function runControlCommand(sub: string, argv: Record<string, unknown>): Promise<number> {
  const name = String(argv.name ?? '');
  const req: ControlRequest =
    sub === 'status'
      ? { cmd: 'status' }
      : sub === 'probe'
        ? { cmd: 'probe', check: argv.check as CheckName }
        : sub === 'signal'
          ? { cmd: 'signal', program: name, signal: String(argv.signal ?? '') }
          : { cmd: sub as 'start' | 'stop' | 'restart', program: name };
  return runControl(req, {
    socket: typeof argv.socket === 'string' ? argv.socket : undefined,
    json: argv.json === true,
    env: process.env,
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
  });
}
