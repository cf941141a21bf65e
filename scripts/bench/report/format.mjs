// Turns a measurement cell into text, shared by the terminal table and the
// Markdown page: "median (lo–hi)", the ratio to our supervisor ("ours ×R" =
// the supervisor's median ÷ this column's), a free text, or "—" for a tool
// that has no such feature.
import { LABELS } from '../lib/inits.mjs';
import { fmt } from '../lib/stats.mjs';

/** Our own columns: never given a ratio to themselves. */
export const OURS = new Set(['supervisor', 'supervisor-single', 'supervisor-json', 'supervisor-watchdog', 'supervisor-cgroup']);

export const label = (id) => LABELS[id] ?? (id === 'node' ? 'node -e 0' : id);

export function cellText(row, col, { ratio = true } = {}) {
  const c = row.cells?.[col];
  if (!c) return '—';
  if (c.dash) return '—';
  if (c.text !== undefined) return c.text;
  if (!c.n) return c.error ? `failed` : '—';
  const unit = row.unit ? ` ${row.unit}` : '';
  let s = c.n === 1 ? `${fmt(c.median)}${unit}` : `${fmt(c.median)}${unit} (${fmt(c.lo)}–${fmt(c.hi)})`;
  if (c.extra) s += ` ${c.extra}`;
  const refId = row.ref ?? 'supervisor';
  const ref = row.cells?.[refId];
  if (ratio && !row.noRatio && !OURS.has(col) && ref?.n && ref.median > 0 && c.median > 0) {
    const r = ref.median / c.median;
    s += ` · ours ×${fmt(r)}`;
  }
  return s;
}

/** Columns that have at least one cell in the table's rows. */
export function usedColumns(result) {
  return result.columns.filter((col) => result.rows.some((r) => r.cells?.[col] !== undefined));
}
