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

/** The default place of PID 1's socket: /run, else $XDG_RUNTIME_DIR, when writable. */
function defaultPlace(env: NodeJS.ProcessEnv): string | null {
  if (writable('/run')) return DEFAULT_SOCKET;
  if (env.XDG_RUNTIME_DIR && writable(env.XDG_RUNTIME_DIR)) return join(env.XDG_RUNTIME_DIR, 'supervisor.sock');
  return null;
}

/** Whether the socket is left to the default places: PID 1 in config mode, nothing set. */
function wantsDefault(configured: string | null | undefined, env: NodeJS.ProcessEnv, defaults: { pid1: boolean; singleCommand: boolean }): boolean {
  return configured === undefined && !env.SUPERVISOR_SOCKET && defaults.pid1 && !defaults.singleCommand;
}

/**
 * The server's socket, or null for none. By default only PID 1 in config mode
 * opens one (a container's /run is its own); elsewhere set control.socket or
 * $SUPERVISOR_SOCKET.
 */
export function serverSocketPath(configured: string | null | undefined, env: NodeJS.ProcessEnv, defaults: { pid1: boolean; singleCommand: boolean }): string | null {
  if (configured !== undefined) return configured;
  if (env.SUPERVISOR_SOCKET) return env.SUPERVISOR_SOCKET;
  return wantsDefault(configured, env, defaults) ? defaultPlace(env) : null;
}

/**
 * Why PID 1 has no socket although it wanted the default one (a non-root user with
 * a read-only /run and no $XDG_RUNTIME_DIR, as in an ordinary pod), or null.
 */
export function missingDefaultSocket(configured: string | null | undefined, env: NodeJS.ProcessEnv, defaults: { pid1: boolean; singleCommand: boolean }): string | null {
  if (!wantsDefault(configured, env, defaults) || defaultPlace(env) !== null) return null;
  return `/run is not writable${env.XDG_RUNTIME_DIR ? ` and neither is $XDG_RUNTIME_DIR (${env.XDG_RUNTIME_DIR})` : ' and $XDG_RUNTIME_DIR is not set'}`;
}

/** Where a client looks, in order. */
export function clientSocketPaths(flag: string | undefined, env: NodeJS.ProcessEnv): string[] {
  if (flag) return [flag];
  if (env.SUPERVISOR_SOCKET) return [env.SUPERVISOR_SOCKET];
  return [DEFAULT_SOCKET, ...(env.XDG_RUNTIME_DIR ? [join(env.XDG_RUNTIME_DIR, 'supervisor.sock')] : [])];
}
