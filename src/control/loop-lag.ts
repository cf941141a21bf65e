// How late the supervisor's event loop runs: a timer that should fire every
// INTERVAL_MS records how late it fired; the worst of the last WINDOW_MS is the
// lag /livez reports. Started only when a listener needs it (no timer otherwise).
export const LAG_INTERVAL_MS = 500;
const WINDOW_MS = 10_000;
/** /livez fails at or above this lag: a loop this late is wedged, not busy. */
export const LAG_THRESHOLD_MS = 5_000;

export interface LoopLag {
  /** Worst lag over the window, including the time since the last tick when that is already late. */
  lagMs(): number;
  stop(): void;
}

export function startLoopLag(now: () => number = () => performance.now()): LoopLag {
  const samples: Array<{ at: number; lag: number }> = [];
  let expected = now() + LAG_INTERVAL_MS;
  const timer = setInterval(() => {
    const t = now();
    samples.push({ at: t, lag: Math.max(0, t - expected) });
    expected = t + LAG_INTERVAL_MS;
    while (samples.length > 0 && samples[0]!.at < t - WINDOW_MS) samples.shift();
  }, LAG_INTERVAL_MS);
  timer.unref();
  return {
    lagMs() {
      const overdue = Math.max(0, now() - expected);
      return samples.reduce((m, s) => Math.max(m, s.lag), overdue);
    },
    stop: () => clearInterval(timer),
  };
}

/** A one-off measure without a running monitor: how long a zero timeout takes to fire now. */
export function measureLagOnce(): Promise<number> {
  const start = performance.now();
  return new Promise((resolve) => setTimeout(() => resolve(Math.max(0, performance.now() - start - 1)), 0));
}
