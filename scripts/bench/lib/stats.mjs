// Summary statistics for repeated measurements: median, percentiles (linear
// interpolation), min/max, and the number formatting the tables use.

/** Value at quantile q (0..1) of an ascending array, interpolating between neighbours. */
export function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * Median and spread of a list of numbers. The spread is p10–p90 when there are
 * at least 10 values, else min–max (said in `spread`).
 */
export function summarize(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return { n: 0 };
  const wide = v.length >= 10;
  return {
    n: v.length,
    median: quantile(v, 0.5),
    lo: wide ? quantile(v, 0.1) : v[0],
    hi: wide ? quantile(v, 0.9) : v[v.length - 1],
    spread: wide ? 'p10-p90' : 'min-max',
    min: v[0],
    max: v[v.length - 1],
    p99: quantile(v, 0.99),
    mean: v.reduce((a, b) => a + b, 0) / v.length,
  };
}

/** A number with about 3 significant digits (1234 → "1234", 12.34 → "12.3", 0.01234 → "0.0123"). */
export function fmt(x) {
  if (x === undefined || x === null || !Number.isFinite(x)) return '?';
  const a = Math.abs(x);
  if (a >= 100) return Math.round(x).toLocaleString('en-US');
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  if (a === 0) return '0';
  return x.toPrecision(2);
}

/** Shuffle-free rotation: round r starts at a different item, so A B C / B C A / C A B. */
export function rotate(items, r) {
  const k = r % Math.max(1, items.length);
  return [...items.slice(k), ...items.slice(0, k)];
}
