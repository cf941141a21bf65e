// Where the control socket lives. The supervisor and the `supervisor status|…`
// client agree without reading the config: $SUPERVISOR_SOCKET, else
// /run/supervisor.sock, else $XDG_RUNTIME_DIR/supervisor.sock (when /run is
// not writable). `control.socket` in the config overrides it for the server
// (then clients need --socket or $SUPERVISOR_SOCKET).
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';

export const DEFAULT_SOCKET = '/run/supervisor.sock';

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The server's socket, or null for none. By default only PID 1 in config mode
 * opens one (a container's /run is its own); elsewhere set control.socket or
 * $SUPERVISOR_SOCKET.
 */
export function serverSocketPath(configured: string | null | undefined, env: NodeJS.ProcessEnv, defaults: { pid1: boolean; singleCommand: boolean }): string | null {
  if (configured === null) return null;
  if (configured !== undefined) return configured;
  if (env.SUPERVISOR_SOCKET) return env.SUPERVISOR_SOCKET;
  if (!defaults.pid1 || defaults.singleCommand) return null;
  if (writable('/run')) return DEFAULT_SOCKET;
  if (env.XDG_RUNTIME_DIR && writable(env.XDG_RUNTIME_DIR)) return join(env.XDG_RUNTIME_DIR, 'supervisor.sock');
  return null;
}

/** Where a client looks, in order. */
export function clientSocketPaths(flag: string | undefined, env: NodeJS.ProcessEnv): string[] {
  if (flag) return [flag];
  if (env.SUPERVISOR_SOCKET) return [env.SUPERVISOR_SOCKET];
  return [DEFAULT_SOCKET, ...(env.XDG_RUNTIME_DIR ? [join(env.XDG_RUNTIME_DIR, 'supervisor.sock')] : [])];
}
