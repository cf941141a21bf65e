// The child's environment: the supervisor's own, then the user's HOME, USER
// and LOGNAME (when the program runs as another user), then the config's env.
import type { PasswdEntry } from './users.js';

/** The supervisor's environment without unset entries. */
export function inheritedEnv(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) out[key] = value;
  return out;
}

/**
 * Layers the environment. A uid without a passwd entry gets HOME=/ and no
 * USER/LOGNAME (like Docker), rather than the supervisor's (root's) values.
 */
export function childEnv(
  inherited: Record<string, string>,
  configEnv: Record<string, string>,
  uid: number | undefined,
  entry: PasswdEntry | undefined,
): Record<string, string> {
  const env = { ...inherited };
  if (entry !== undefined) {
    Object.assign(env, { HOME: entry.home === '' ? '/' : entry.home, USER: entry.name, LOGNAME: entry.name });
  } else if (uid !== undefined) {
    env.HOME = '/';
    delete env.USER;
    delete env.LOGNAME;
  }
  return Object.assign(env, configEnv);
}
