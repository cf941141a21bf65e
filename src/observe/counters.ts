// Counts what only the event stream knows (exits by status, OOM kills, memory
// stops, orphans reaped) for /metrics: a tap in front of the logger, installed
// only when the HTTP listener is on. Plain maps: the metrics chunk reads them
// at scrape time.
import type { EventFields, EventName, EventSink } from '../logging/events.js';

/** program → label value → count. */
type PerProgram = Map<string, Map<string, number>>;

export class EventCounters {
  /** child.exit by program and exit status (code, or 128+signal). */
  readonly exits: PerProgram = new Map();
  /** child.oom_killed by program ('' when it could not be tied to one). */
  readonly oomKills = new Map<string, number>();
  /** Memory stops by program and reason: cap (its own memory.max) or guard (the container guard). */
  readonly memoryStops: PerProgram = new Map();
  orphansReaped = 0;

  /** An EventSink that counts, then passes every event on to `next`. */
  tap(next: EventSink): EventSink {
    return {
      emit: (event, fields, msg) => {
        this.count(event, fields);
        next.emit(event, fields, msg);
      },
    };
  }

  count(event: EventName, fields: EventFields): void {
    const program = typeof fields.program === 'string' ? fields.program : '';
    switch (event) {
      case 'child.exit':
        bump(this.exits, program, String(fields.status ?? ''));
        break;
      case 'child.oom_killed':
        this.oomKills.set(program, (this.oomKills.get(program) ?? 0) + 1);
        break;
      case 'child.memory_cap_exceeded':
        bump(this.memoryStops, program, 'cap');
        break;
      case 'container.memory_guard':
        if (program && fields.action === 'stop') bump(this.memoryStops, program, 'guard');
        break;
      case 'zombie.reaped':
        this.orphansReaped++;
        break;
      default:
    }
  }
}

function bump(m: PerProgram, program: string, label: string): void {
  let inner = m.get(program);
  if (!inner) m.set(program, (inner = new Map()));
  inner.set(label, (inner.get(label) ?? 0) + 1);
}
