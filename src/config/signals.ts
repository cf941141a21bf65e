// Signal names in the config file: accepts `TERM`, `SIGTERM`, `sigterm` and
// normalises them to the name Node uses (`SIGTERM`), if Node knows the signal.
import { constants } from 'node:os';

/** Every signal name Node knows on this platform, sorted. */
export const SIGNAL_NAMES: readonly string[] = Object.keys(constants.signals).sort();

/** `term`, `Sigterm` → `SIGTERM` (whether or not such a signal exists). */
export function signalSpelling(input: string): string {
  const upper = input.trim().toUpperCase();
  return upper.startsWith('SIG') ? upper : `SIG${upper}`;
}

/** Returns the normalised name (`SIGTERM`), or undefined if it is not a signal Node knows. */
export function normaliseSignal(input: string): NodeJS.Signals | undefined {
  const name = signalSpelling(input);
  return Object.hasOwn(constants.signals, name) ? (name as NodeJS.Signals) : undefined;
}
