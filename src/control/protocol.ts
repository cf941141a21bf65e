// The control socket's protocol: the client writes one JSON request line, the
// supervisor answers one JSON line and closes. Shared by server and client.
import type { CheckName, SupervisorStatus } from './status.js';

export type ControlRequest =
  | { cmd: 'status' }
  | { cmd: 'start' | 'stop' | 'restart'; program: string }
  | { cmd: 'signal'; program: string; signal: string }
  | { cmd: 'probe'; check: CheckName };

export interface ControlResponse {
  ok: boolean;
  /** One line for the user. */
  message: string;
  status?: SupervisorStatus;
}

/** A request line longer than this is refused (the largest real one is ~100 bytes). */
export const MAX_REQUEST_BYTES = 4096;

const CHECKS: readonly string[] = ['live', 'ready', 'startup'];

/** The request in a line, or an error message. */
export function parseRequest(line: string): ControlRequest | string {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return 'malformed request (expected one JSON line)';
  }
  if (typeof raw !== 'object' || raw === null) return 'malformed request';
  const r = raw as Record<string, unknown>;
  switch (r.cmd) {
    case 'status':
      return { cmd: 'status' };
    case 'start':
    case 'stop':
    case 'restart':
      return typeof r.program === 'string' ? { cmd: r.cmd, program: r.program } : `${r.cmd}: missing program name`;
    case 'signal':
      return typeof r.program === 'string' && typeof r.signal === 'string' ? { cmd: 'signal', program: r.program, signal: r.signal } : 'signal: missing program name or signal';
    case 'probe':
      return typeof r.check === 'string' && CHECKS.includes(r.check) ? { cmd: 'probe', check: r.check as CheckName } : 'probe: expected live, ready or startup';
    default:
      return `unknown command ${JSON.stringify(r.cmd)}`;
  }
}
