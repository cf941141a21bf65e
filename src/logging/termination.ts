// The termination message: a short human summary of why the supervisor exited,
// written to Kubernetes' terminationMessagePath (default /dev/termination-log)
// so `kubectl describe pod` shows it as the last state's message. It watches the
// event stream (a tee in front of the logger) and keeps only what the summary needs.
import { existsSync, writeFileSync } from 'node:fs';
import type { EventFields, EventName, EventSink } from './events.js';

/** Kubernetes keeps at most 4096 bytes of the message. */
export const TERMINATION_MESSAGE_MAX = 4096;
export const DEFAULT_TERMINATION_LOG = '/dev/termination-log';

interface Tally {
  /** child.oom_killed: the kernel's OOM killer, in the program's tree. */
  oomKills: number;
  /** child.memory_cap_exceeded: the watchdog stopped it at its cap. */
  capStops: number;
  /** container.memory_guard: the container guard stopped it. */
  guardStops: number;
  fatal: boolean;
  /** child.fatal's reason (oom_loop, …); none for a crash loop. */
  fatalReason?: string;
  lastStatus?: number;
}

/** Why a program turned fatal, in words. */
export function fatalReasonText(reason: unknown): string {
  if (reason === 'oom_loop') return 'too many OOM kills or memory stops (memory.oom_loop)';
  if (typeof reason === 'string' && reason.length > 0) return reason.replace(/_/g, ' ');
  return 'crash loop';
}

export class TerminationSummary implements EventSink {
  private readonly tally = new Map<string, Tally>();
  private shutdown?: EventFields;
  /** OOM kills that could not be tied to one program. */
  private unattributedOomKills = 0;

  constructor(private readonly next: EventSink) {}

  emit(event: EventName, fields: EventFields, msg: string): void {
    this.next.emit(event, fields, msg);
    const program = fields.program;
    if (event === 'supervisor.shutdown') this.shutdown ??= fields;
    if (!program) {
      if (event === 'child.oom_killed') this.unattributedOomKills++;
      return;
    }
    const t = this.tally.get(program) ?? { oomKills: 0, capStops: 0, guardStops: 0, fatal: false };
    if (event === 'child.oom_killed') t.oomKills++;
    else if (event === 'child.memory_cap_exceeded') t.capStops++;
    // One stop per program stopped: a later SIGKILL of the same stop (action: kill) is not another.
    else if (event === 'container.memory_guard' && fields.action === 'stop') t.guardStops++;
    else if (event === 'child.fatal') {
      t.fatal = true;
      t.fatalReason = typeof fields.reason === 'string' ? fields.reason : undefined;
    } else if (event === 'child.exit' && typeof fields.status === 'number') t.lastStatus = fields.status;
    else return;
    this.tally.set(program, t);
  }

  /** One paragraph, most important first, within Kubernetes' 4096 bytes. */
  text(code: number): string {
    const sd = this.shutdown;
    let why = 'exited';
    if (sd?.reason === 'signal') why = `stopped by ${String(sd.signal)}`;
    else if (sd?.reason === 'program_fatal') why = `program ${String(sd.program)} turned fatal (${fatalReasonText(this.tally.get(String(sd.program))?.fatalReason)})`;
    else if (sd?.reason === 'program_exited') why = `program ${String(sd.program)} exited`;
    else if (sd?.reason === 'all_exited') why = 'every program exited';
    const lines = [`supervisor exit code ${code}: ${why}.`];
    for (const [program, t] of this.tally) {
      const parts: string[] = [];
      if (t.oomKills > 0) parts.push(`${t.oomKills} OOM kill${t.oomKills === 1 ? '' : 's'}`);
      if (t.capStops > 0) parts.push(`${t.capStops} watchdog cap stop${t.capStops === 1 ? '' : 's'}`);
      if (t.guardStops > 0) parts.push(`${t.guardStops} container-guard stop${t.guardStops === 1 ? '' : 's'}`);
      if (t.fatal) parts.push(`fatal (${fatalReasonText(t.fatalReason)})`);
      if (parts.length > 0) lines.push(`${program}: ${parts.join(', ')}${t.lastStatus === undefined ? '' : `; last exit status ${t.lastStatus}`}.`);
    }
    if (this.unattributedOomKills > 0) lines.push(`${this.unattributedOomKills} OOM kill${this.unattributedOomKills === 1 ? '' : 's'} not tied to one program.`);
    return lines.join('\n').slice(0, TERMINATION_MESSAGE_MAX);
  }
}

/**
 * Writes the message to `path`, or to /dev/termination-log when that exists and
 * no path was configured. Never throws: PID 1 is on its way out.
 */
export function writeTerminationMessage(text: string, path: string | null | undefined): string | undefined {
  const target = path === undefined ? (existsSync(DEFAULT_TERMINATION_LOG) ? DEFAULT_TERMINATION_LOG : undefined) : path ?? undefined;
  if (!target) return undefined;
  try {
    writeFileSync(target, text + '\n');
    return target;
  } catch {
    return undefined;
  }
}
