// Prints a suite's result as a plain-text table on stderr/stdout: one row per
// metric, one column per init.
import { cellText, label, usedColumns } from './format.mjs';

export function renderText(result) {
  const cols = usedColumns(result);
  const header = ['', ...cols.map(label)];
  const body = result.rows.map((r) => [r.label, ...cols.map((c) => cellText(r, c))]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join(' | ');
  const out = [`== ${result.title} ==`, line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...body.map(line)];
  for (const n of result.notes ?? []) out.push(`  note: ${n}`);
  return out.join('\n');
}
