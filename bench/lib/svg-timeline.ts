/**
 * A small, dependency-free SVG renderer for timelines (benchmark runs over time): panels
 * stacked on one shared time axis, each with its own title, unit, y axis and legend; lines
 * (straight or stepped, solid or dashed) and labelled vertical markers (phase changes,
 * scaling decisions) drawn across every panel, and shaded bands (phases).
 *
 * @example
 * ```ts
 * const svg = timelineSvg([
 *   { title: 'Instances', unit: 'instances', series: [{ name: 'nat ready', points: [[0, 1], [9.2, 2]], step: true }] },
 *   { title: 'Requests', unit: 'req/s', series: [{ name: 'served', points: [[0, 300], [0.25, 310]] }] },
 * ], { title: 'Scale-out under load', markers: [{ x: 9.1, label: 'scale-out nat 1→2' }], bands: [{ from: 8, to: 16, label: 'high' }] });
 * writeFileSync('bench/results/scale.svg', svg);
 * ```
 */
import { escapeXml, niceStep, shortNumber } from './svg-chart.ts';

/** One line: points `[x, y]` in x order (y NaN: a gap). */
export interface TimelineSeries {
  readonly name: string;
  readonly points: ReadonlyArray<readonly [number, number]>;
  /** Stroke colour (default: from a fixed palette by position in the panel). */
  readonly color?: string;
  readonly dashed?: boolean;
  /** Draw as a step function (the value holds until the next point), e.g. instance counts. */
  readonly step?: boolean;
}

/** One panel. */
export interface TimelinePanel {
  readonly title: string;
  readonly unit: string;
  readonly series: readonly TimelineSeries[];
  /** Least top of the y axis (default: from the data). */
  readonly minTop?: number;
}

/** A vertical line across every panel at `x`, labelled at the top. */
export interface TimelineMarker {
  readonly x: number;
  readonly label: string;
  readonly color?: string;
}

/** A shaded span of x across every panel, labelled at the top (e.g. a load phase). */
export interface TimelineBand {
  readonly from: number;
  readonly to: number;
  readonly label: string;
}

/** Layout options of `timelineSvg`. */
export interface TimelineOptions {
  readonly title?: string;
  /** Caption of the x axis (default `time (s)`). */
  readonly xLabel?: string;
  readonly markers?: readonly TimelineMarker[];
  readonly bands?: readonly TimelineBand[];
  /** Plot size in px (default 900 wide, 190 high per panel). */
  readonly width?: number;
  readonly panelHeight?: number;
}

const PALETTE = ['#2f6fdf', '#e8833a', '#3aa66a', '#b04fc4', '#d64545', '#9aa5b1', '#1b9aaa'];
const M = { left: 70, right: 180, top: 30, bottom: 22 };

/** Renders the panels stacked as one standalone SVG document. */
export function timelineSvg(panels: readonly TimelinePanel[], options: TimelineOptions = {}): string {
  const plotW = options.width ?? 900;
  const ph = options.panelHeight ?? 190;
  const head = (options.title === undefined ? 0 : 26) + ((options.markers?.length ?? 0) > 0 ? 16 * Math.min(6, options.markers!.length) : 0) + ((options.bands?.length ?? 0) > 0 ? 18 : 0) + 10;
  const xs = panels.flatMap((p) => p.series.flatMap((s) => s.points.map((pt) => pt[0])));
  for (const m of options.markers ?? []) xs.push(m.x);
  const xMax = Math.max(1, ...xs.filter(Number.isFinite));
  const xStep = niceStep(xMax, 10);
  const xTop = Math.ceil(xMax / xStep) * xStep;
  const width = M.left + plotW + M.right;
  const height = head + panels.length * ph + 34;
  const x = (v: number): number => M.left + (v / xTop) * plotW;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
  ];
  if (options.title !== undefined) out.push(`<text x="${M.left + plotW / 2}" y="19" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(options.title)}</text>`);
  const plotTop = head;
  const plotBottom = head + panels.length * ph;
  (options.bands ?? []).forEach((b, i) => {
    const x1 = x(Math.max(0, b.from));
    const x2 = x(Math.min(xTop, b.to));
    out.push(`<rect x="${x1.toFixed(1)}" y="${plotTop - 16}" width="${Math.max(0, x2 - x1).toFixed(1)}" height="${plotBottom - plotTop + 16}" fill="${i % 2 === 0 ? '#f1f3f6' : '#e6eaf0'}"/>`);
    out.push(`<text x="${((x1 + x2) / 2).toFixed(1)}" y="${plotTop - 4}" text-anchor="middle" fill="#5a6470">${escapeXml(b.label)}</text>`);
  });
  panels.forEach((p, i) => out.push(panel(p, head + i * ph, ph, plotW, x)));
  (options.markers ?? []).forEach((m, i) => {
    const mx = x(m.x).toFixed(1);
    const color = m.color ?? '#d64545';
    const row = i % 6;
    const ly = (options.title === undefined ? 0 : 26) + 12 + row * 16;
    out.push(`<line x1="${mx}" x2="${mx}" y1="${ly + 3}" y2="${plotBottom}" stroke="${color}" stroke-width="1" stroke-dasharray="3,3"/>`);
    out.push(`<text x="${mx}" y="${ly}" dx="3" fill="${color}" font-size="10">${escapeXml(m.label)}</text>`);
  });
  for (let v = 0; v <= xTop + xStep / 2; v += xStep) {
    const xx = x(v).toFixed(1);
    out.push(`<line x1="${xx}" x2="${xx}" y1="${plotBottom}" y2="${plotBottom + 4}" stroke="#333"/>`);
    out.push(`<text x="${xx}" y="${plotBottom + 16}" text-anchor="middle" fill="#555">${shortNumber(v)}</text>`);
  }
  out.push(`<text x="${M.left + plotW / 2}" y="${height - 4}" text-anchor="middle" fill="#555">${escapeXml(options.xLabel ?? 'time (s)')}</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function panel(p: TimelinePanel, y0: number, h: number, plotW: number, x: (v: number) => number): string {
  const out: string[] = [];
  const top = y0 + M.top;
  const plotH = h - M.top - M.bottom;
  const values = p.series.flatMap((s) => s.points.map((pt) => pt[1])).filter(Number.isFinite);
  const max = Math.max(p.minTop ?? 0, ...values, 0);
  const step = niceStep(max, 4);
  const yTop = Math.max(step, Math.ceil((max * 1.05) / step) * step);
  const y = (v: number): number => top + plotH - (v / yTop) * plotH;
  out.push(`<text x="${M.left}" y="${y0 + 18}" font-size="13" font-weight="bold">${escapeXml(p.title)}</text>`);
  for (let v = 0; v <= yTop + step / 2; v += step) {
    const yy = y(v).toFixed(1);
    out.push(`<line x1="${M.left}" x2="${M.left + plotW}" y1="${yy}" y2="${yy}" stroke="#e3e6ea"/>`);
    out.push(`<text x="${M.left - 6}" y="${yy}" dy="3.5" text-anchor="end" fill="#555">${shortNumber(v)}</text>`);
  }
  out.push(`<text transform="translate(14,${top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#555">${escapeXml(p.unit)}</text>`);
  out.push(`<line x1="${M.left}" x2="${M.left + plotW}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`);
  p.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const d = pathOf(s, x, y);
    if (d !== '') out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.6"${s.dashed === true ? ' stroke-dasharray="5,3"' : ''}><title>${escapeXml(s.name)}</title></path>`);
    const ly = top + 4 + i * 15;
    out.push(`<line x1="${M.left + plotW + 12}" x2="${M.left + plotW + 32}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="5,3"' : ''}/>`);
    out.push(`<text x="${M.left + plotW + 36}" y="${ly + 4}">${escapeXml(s.name)}</text>`);
  });
  return out.join('\n');
}

/** SVG path data of a series; NaN values break the line. */
function pathOf(s: TimelineSeries, x: (v: number) => number, y: (v: number) => number): string {
  const parts: string[] = [];
  let pen = false;
  for (const [px, py] of s.points) {
    if (!Number.isFinite(px) || !Number.isFinite(py)) {
      pen = false;
      continue;
    }
    const X = x(px).toFixed(1);
    const Y = y(py).toFixed(1);
    if (!pen) parts.push(`M${X},${Y}`);
    else if (s.step === true) parts.push(`H${X}`, `V${Y}`);
    else parts.push(`L${X},${Y}`);
    pen = true;
  }
  return parts.join(' ');
}
