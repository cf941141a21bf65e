// depends_on conditions, pure: whether a dependency meets the condition its
// dependent waits for (Compose's and process-compose's names), and whether it
// never will. `running` is the default and the list form's meaning.
//   started                 – it has a process (spawned), or exited 0 for good
//   running                 – past start_secs, or exited 0 for good
//   healthy                 – its readiness probe passed in its current run
//   completed_successfully  – it exited 0 for good (an init job)
// Every condition fails for good when the dependency turned fatal, exited
// non-zero for good (`healthy`: exited at all), or is itself blocked. A
// dependency the operator stopped (`supervisor stop`) has neither completed nor
// failed: its dependents wait for `supervisor start`.
import type { DependencyCondition } from '../plan/types.js';
import type { Phase } from './lifecycle.js';

export interface DependencyView {
  phase: Phase;
  /** A process of its current run is alive. */
  hasProcess: boolean;
  lastExitStatus?: number;
  blocked: boolean;
  /** Its readiness probe passed in its current run. */
  ready: boolean;
  /** Stopped by the operator, held down until started again. */
  held: boolean;
}

const completed = (d: DependencyView) => !d.held && d.phase === 'exited' && (d.lastExitStatus ?? 0) === 0;

export function conditionMet(condition: DependencyCondition, d: DependencyView): boolean {
  switch (condition) {
    case 'started':
      return d.hasProcess || completed(d);
    case 'running':
      return d.phase === 'running' || completed(d);
    case 'healthy':
      return d.ready && (d.phase === 'starting' || d.phase === 'running');
    case 'completed_successfully':
      return completed(d);
  }
}

export function conditionFailed(condition: DependencyCondition, d: DependencyView): boolean {
  if (d.held) return false;
  if (d.blocked || d.phase === 'fatal') return true;
  // A program that ended for good can never pass a readiness probe again.
  if (condition === 'healthy') return d.phase === 'exited';
  return d.phase === 'exited' && (d.lastExitStatus ?? 0) !== 0;
}
