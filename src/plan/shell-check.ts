// Checks the script of a `shell: true` program with `/bin/sh -n` (parse only,
// nothing runs), so a syntax error is a config problem at validation time
// instead of a program that exits 2 at every start until it turns fatal.
import { spawnSync } from 'node:child_process';
import { SHELL_ARGV } from '../config/defaults.js';

/** The shell's complaint about `script`, or undefined when it parses (or no shell could be asked). */
export type ShellChecker = (script: string) => string | undefined;

/** sh's first error line without its `/bin/sh: 1: ` prefix. */
export function shellMessage(stderr: string): string {
  const line = stderr.split('\n').find((l) => l.trim() !== '') ?? 'syntax error';
  return line.replace(/^(?:\S*sh: )?(?:-c: )?(?:line \d+: |\d+: )?/, '').trim();
}

export const checkShellSyntax: ShellChecker = (script) => {
  const shell = SHELL_ARGV[0]!;
  const result = spawnSync(shell, ['-n', '-c', script], {
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 10_000,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });
  // No /bin/sh here (a distroless image), or it could not be run: the spawn will say so.
  if (result.error !== undefined || result.status === null || result.status === 0) return undefined;
  return `${shell} -n finds a syntax error in the script: ${shellMessage(result.stderr)}`;
};
