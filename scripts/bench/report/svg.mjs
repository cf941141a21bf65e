// Draws the memory-cap chart as a standalone SVG (no browser, no dependency):
// one panel per init that has a cap (rows) and leak rate (columns), the leak's
// sampled RSS over time since it started, the cap as a dashed line, and the
// moment the process was stopped as a vertical line.
import { label } from './format.mjs';

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceStep(span, target) {
  const raw = span / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

/**
 * @param {object} memcap the memcap suite's result (with .runs[rate][init] = [run...])
 * @param {{capMiB: number}} params
 */
export function memcapSvg(memcap, params) {
  const rates = Object.keys(memcap.runs).map(Number);
  const inits = [...new Set(rates.flatMap((r) => Object.keys(memcap.runs[r])))];
  const W = 300;
  const H = 190;
  const ml = 58;
  const mt = 68;
  const gapX = 24;
  const gapY = 46;
  const width = Math.max(ml + rates.length * (W + gapX) + 10, 680);
  const height = mt + inits.length * (H + gapY) + 20;
  let ymax = params.capMiB * 1.5;
  for (const r of rates) for (const i of inits) for (const run of memcap.runs[r][i] ?? []) for (const [, y] of run.series ?? []) ymax = Math.max(ymax, y);
  const ystep = niceStep(ymax, 5);
  ymax = Math.ceil(ymax / ystep) * ystep;
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  out.push(`<text x="10" y="20" font-size="15" font-weight="bold">A leaking child's RSS under each init that has a memory cap (${params.capMiB} MiB)</text>`);
  out.push(`<text x="10" y="37" fill="#555">x: seconds since the leak started (each panel its own scale) · y: VmRSS in MiB, sampled by the driver</text>`);
  out.push(`<text x="10" y="52" fill="#555"><tspan fill="#d62728">red dashed: the cap</tspan> · <tspan fill="#d62728">dot: cap crossed (cgroup: the kernel's OOM kill)</tspan> · <tspan fill="#1f77b4">blue: the process was gone</tspan></text>`);
  rates.forEach((rate, ci) => {
    inits.forEach((init, ri) => {
      const x0 = ml + ci * (W + gapX);
      const y0 = mt + ri * (H + gapY) + 12;
      const run = (memcap.runs[rate][init] ?? [])[0];
      out.push(`<text x="${x0}" y="${y0 - 6}" font-weight="bold">${esc(label(init))} · ${rate} MiB/s</text>`);
      out.push(`<rect x="${x0}" y="${y0}" width="${W}" height="${H}" fill="#fafafa" stroke="#bbb"/>`);
      if (!run || !run.series?.length) {
        out.push(`<text x="${x0 + 10}" y="${y0 + H / 2}" fill="#999">${run?.unsupported ? esc(run.unsupported) : 'no data'}</text>`);
        return;
      }
      const tEnd = Math.max(run.series.at(-1)[0], run.stopMs ?? 0) * 1.08 || 1;
      const X = (ms) => x0 + (ms / tEnd) * W;
      const Y = (mib) => y0 + H - (mib / ymax) * H;
      const tstep = niceStep(tEnd / 1000, 4);
      for (let t = 0; t <= tEnd / 1000 + 1e-9; t += tstep) {
        out.push(`<line x1="${X(t * 1000).toFixed(1)}" y1="${y0 + H}" x2="${X(t * 1000).toFixed(1)}" y2="${y0 + H + 4}" stroke="#888"/>`);
        out.push(`<text x="${X(t * 1000).toFixed(1)}" y="${y0 + H + 15}" text-anchor="middle" fill="#555">${+t.toFixed(2)}</text>`);
      }
      for (let m = 0; m <= ymax + 1e-9; m += ystep) {
        out.push(`<line x1="${x0}" y1="${Y(m).toFixed(1)}" x2="${x0 + W}" y2="${Y(m).toFixed(1)}" stroke="#eee"/>`);
        if (ci === 0) out.push(`<text x="${x0 - 6}" y="${(Y(m) + 4).toFixed(1)}" text-anchor="end" fill="#555">${m}</text>`);
      }
      out.push(`<line x1="${x0}" y1="${Y(params.capMiB).toFixed(1)}" x2="${x0 + W}" y2="${Y(params.capMiB).toFixed(1)}" stroke="#d62728" stroke-dasharray="5,4" stroke-width="1.5"/>`);
      const pts = run.series.map(([t, y]) => `${X(t).toFixed(1)},${Y(y).toFixed(1)}`).join(' ');
      out.push(`<polyline points="${pts}" fill="none" stroke="#222" stroke-width="1.6"/>`);
      if (run.crossMs !== undefined) out.push(`<circle cx="${X(run.crossMs).toFixed(1)}" cy="${Y(params.capMiB).toFixed(1)}" r="3.5" fill="#d62728"/>`);
      if (run.stopMs !== undefined) {
        const sx = X(run.stopMs).toFixed(1);
        out.push(`<line x1="${sx}" y1="${y0}" x2="${sx}" y2="${y0 + H}" stroke="#1f77b4" stroke-width="1.5"/>`);
        const txt = `stopped ${run.crossToStopMs !== undefined ? `${Math.round(run.crossToStopMs)} ms after crossing` : ''}, peak +${Math.round(run.overshootMiB)} MiB`;
        out.push(`<text x="${x0 + 6}" y="${y0 + 14}" fill="#1f77b4">${esc(txt)}</text>`);
      } else out.push(`<text x="${x0 + 6}" y="${y0 + 14}" fill="#d62728">not stopped within ${run.waitedS} s</text>`);
    });
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
