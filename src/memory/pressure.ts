// Memory pressure of a program's leaf cgroup (cgroup v2 PSI, memory.pressure):
// the stall percentage since the previous look, from the `some` total, and
// whether the program is thrashing near its mark (policy.leafPressureVerdict),
// so `child.memory_pressure` comes before the kernel's OOM kill.
import { join } from 'node:path';
import { readQuiet } from './files.js';
import { parsePsi } from './parse.js';
import { leafPressureVerdict, stallPercent, type CapMarks } from './policy.js';

/** The stall is measured over at least this long (one 250 ms tick is too noisy). */
const WINDOW_MS = 1000;

export interface PressureReport {
  /** `some` stall percentage over the last window. */
  somePct: number;
  fullPct: number | null;
  avg10: number;
}

/** One program's leaf: call look() on each sampling tick; returns a report when the event is due. */
export class LeafPressure {
  private prev?: { at: number; some: number; full?: number };
  private reported = false;

  constructor(private readonly leafPath: string) {}

  look(now: number, usageBytes: number, caps: CapMarks): PressureReport | undefined {
    const psi = parsePsi(readQuiet(join(this.leafPath, 'memory.pressure')) ?? '');
    if (!psi) return undefined;
    if (!this.prev) {
      this.prev = { at: now, some: psi.some.total, full: psi.full?.total };
      return undefined;
    }
    if (now - this.prev.at < WINDOW_MS) return undefined;
    const somePct = stallPercent(this.prev.some, psi.some.total, now - this.prev.at);
    const fullPct = stallPercent(this.prev.full, psi.full?.total, now - this.prev.at);
    this.prev = { at: now, some: psi.some.total, full: psi.full?.total };
    const v = leafPressureVerdict(somePct, usageBytes, caps, this.reported);
    this.reported = v.reported;
    if (!v.report || somePct === null) return undefined;
    return { somePct: Math.round(somePct * 10) / 10, fullPct: fullPct === null ? null : Math.round(fullPct * 10) / 10, avg10: psi.some.avg10 };
  }
}
