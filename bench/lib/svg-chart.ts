/**
 * A small, dependency-free SVG renderer for grouped bar charts (benchmark results): one or
 * more panels side by side, each with its own title, unit and y axis, a shared legend, and
 * the value printed above each bar.
 *
 * @example
 * ```ts
 * const svg = barChartsSvg([
 *   { title: 'Requests per second', unit: 'req/s', groups: ['1', '10', '100'], series: [
 *     { name: 'nfvkit', values: [9000, 30000, 31000] },
 *     { name: 'nftables', values: [12000, 50000, 52000] },
 *   ] },
 * ], { title: 'HTTP through web-edge', groupLabel: 'connections' });
 * writeFileSync('bench/results/http.svg', svg);
 * ```
 */

/** One series: a value per group (NaN: no bar). */
export interface BarSeries {
  readonly name: string;
  readonly values: readonly number[];
  /** Fill colour (default: from a fixed palette by position). */
  readonly color?: string;
}

/** One panel. */
export interface BarChart {
  readonly title: string;
  /** Unit shown on the y axis. */
  readonly unit: string;
  /** Group labels along the x axis. */
  readonly groups: readonly string[];
  readonly series: readonly BarSeries[];
}

/** Layout options of `barChartsSvg`. */
export interface BarChartOptions {
  /** Heading above every panel. */
  readonly title?: string;
  /** Caption under the x axis of each panel (e.g. `connections`). */
  readonly groupLabel?: string;
  /** Panel size in px (default 460 × 300). */
  readonly panelWidth?: number;
  readonly panelHeight?: number;
}

const PALETTE = ['#2f6fdf', '#9aa5b1', '#e8833a', '#3aa66a', '#b04fc4', '#d64545'];
const MARGIN = { top: 58, right: 16, bottom: 48, left: 64 };

/** Escapes text for SVG content and attributes. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A round tick step (1, 2 or 5 × 10ⁿ) giving about `ticks` intervals up to `max`. */
export function niceStep(max: number, ticks = 5): number {
  if (!(max > 0)) return 1;
  const raw = max / ticks;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/** Short form of a value: 31 200 → `31.2k`, 0.69 → `0.69`. */
export function shortNumber(v: number): string {
  if (!Number.isFinite(v)) return '';
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toFixed(a >= 1e7 ? 0 : 1)}M`;
  if (a >= 1e3) return `${+(v / 1e3).toFixed(a >= 1e4 ? 1 : 2)}k`;
  if (a >= 10 || a === 0) return String(Math.round(v));
  return String(+v.toFixed(2));
}

/** Renders the panels side by side as one standalone SVG document. */
export function barChartsSvg(charts: readonly BarChart[], options: BarChartOptions = {}): string {
  const pw = options.panelWidth ?? 460;
  const ph = options.panelHeight ?? 300;
  const head = options.title === undefined ? 0 : 28;
  const names = [...new Set(charts.flatMap((c) => c.series.map((s) => s.name)))];
  const colorOf = (s: BarSeries): string => s.color ?? PALETTE[names.indexOf(s.name) % PALETTE.length];
  const width = pw * Math.max(1, charts.length);
  const height = ph + head;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
  ];
  if (options.title !== undefined) out.push(`<text x="${width / 2}" y="19" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(options.title)}</text>`);
  charts.forEach((chart, i) => out.push(panel(chart, i * pw, head, pw, ph, colorOf, options.groupLabel)));
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function panel(chart: BarChart, x0: number, y0: number, w: number, h: number, colorOf: (s: BarSeries) => string, groupLabel: string | undefined): string {
  const out: string[] = [`<g transform="translate(${x0},${y0})">`];
  const plotW = w - MARGIN.left - MARGIN.right;
  const plotH = h - MARGIN.top - MARGIN.bottom;
  const max = Math.max(0, ...chart.series.flatMap((s) => s.values.filter(Number.isFinite)));
  const step = niceStep(max);
  const top = Math.max(step, Math.ceil((max * 1.08) / step) * step);
  const y = (v: number): number => MARGIN.top + plotH - (v / top) * plotH;
  out.push(`<text x="${w / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">${escapeXml(chart.title)}</text>`);
  // Legend under the title.
  let lx = MARGIN.left;
  for (const s of chart.series) {
    out.push(`<rect x="${lx}" y="27" width="10" height="10" fill="${colorOf(s)}"/>`, `<text x="${lx + 14}" y="36">${escapeXml(s.name)}</text>`);
    lx += 24 + s.name.length * 6.2;
  }
  for (let v = 0; v <= top + step / 2; v += step) {
    const yy = y(v).toFixed(1);
    out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${yy}" y2="${yy}" stroke="#e3e6ea"/>`);
    out.push(`<text x="${MARGIN.left - 6}" y="${yy}" dy="3.5" text-anchor="end" fill="#555">${shortNumber(v)}</text>`);
  }
  out.push(`<text transform="translate(14,${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#555">${escapeXml(chart.unit)}</text>`);
  const groups = chart.groups.length;
  const slot = plotW / Math.max(1, groups);
  const barW = (slot * 0.78) / Math.max(1, chart.series.length);
  chart.groups.forEach((g, gi) => {
    const gx = MARGIN.left + gi * slot + slot * 0.11;
    chart.series.forEach((s, si) => {
      const v = s.values[gi];
      if (v === undefined || !Number.isFinite(v)) return;
      const bx = gx + si * barW;
      const by = y(v);
      out.push(`<rect x="${bx.toFixed(1)}" y="${by.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(MARGIN.top + plotH - by).toFixed(1)}" fill="${colorOf(s)}"><title>${escapeXml(`${s.name}, ${g}: ${v} ${chart.unit}`)}</title></rect>`);
      out.push(`<text x="${(bx + (barW - 2) / 2).toFixed(1)}" y="${(by - 3).toFixed(1)}" text-anchor="middle" font-size="9" fill="#333">${shortNumber(v)}</text>`);
    });
    out.push(`<text x="${(MARGIN.left + gi * slot + slot / 2).toFixed(1)}" y="${MARGIN.top + plotH + 15}" text-anchor="middle">${escapeXml(g)}</text>`);
  });
  out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${MARGIN.top + plotH}" y2="${MARGIN.top + plotH}" stroke="#333"/>`);
  if (groupLabel !== undefined) out.push(`<text x="${MARGIN.left + plotW / 2}" y="${h - 10}" text-anchor="middle" fill="#555">${escapeXml(groupLabel)}</text>`);
  out.push('</g>');
  return out.join('\n');
}
