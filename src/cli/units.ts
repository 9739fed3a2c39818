/**
 * Short human-readable figures for tables: rates with SI suffixes, percentages, ages,
 * clock times and sizes.
 *
 * @example
 * ```ts
 * formatRate(398123.7);   // '398.1k'
 * formatPercent(0.423);   // '42%'
 * formatAge(185_000);     // '3m5s'
 * ```
 */

const SI = [
  { scale: 1e9, suffix: 'G' },
  { scale: 1e6, suffix: 'M' },
  { scale: 1e3, suffix: 'k' },
] as const;

/** A rate or count with an SI suffix and one decimal (`1.2M`, `398.1k`); under 1000 as a whole number. */
export function formatRate(value: number): string {
  if (!Number.isFinite(value)) return '-';
  const abs = Math.abs(value);
  for (const { scale, suffix } of SI) if (abs >= scale * 0.9995) return `${(value / scale).toFixed(1)}${suffix}`;
  return String(Math.round(value));
}

/** A 0..1 ratio as a whole percentage (`42%`). */
export function formatPercent(ratio: number): string {
  return Number.isFinite(ratio) ? `${Math.round(ratio * 100)}%` : '-';
}

/** A duration as its two largest units: `45s`, `3m5s`, `2h10m`, `4d3h`. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
}

/** Unix ms as UTC `YYYY-MM-DD HH:MM:SSZ`. */
export function formatTimestamp(unixMs: number): string {
  return new Date(unixMs).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** Unix ms as UTC `HH:MM:SS.mmm`. */
export function formatClock(unixMs: number): string {
  return new Date(unixMs).toISOString().slice(11, 23);
}

/** Bytes in KiB with one decimal (`56.9 KiB`). */
export function formatKib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

/** A duration in seconds with one decimal (`0.1s`, `25.6s`). */
export function formatSeconds(ms: number): string {
  return `${(Math.max(0, ms) / 1000).toFixed(1)}s`;
}

/** Milliseconds with one decimal below 10 ms, whole above (`4.2ms`, `127ms`). */
export function formatMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(1)}ms` : `${Math.round(ms)}ms`;
}

/** Bytes with a binary unit and one decimal above 1 KiB (`512 B`, `56.9 KiB`, `1.2 MiB`, `3.0 GiB`). */
export function formatBytes(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  if (!(Math.abs(bytes) >= 1024)) return `${Math.round(bytes)} B`;
  let value = bytes;
  let unit = -1;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** The first 12 hex digits of an image id (what tables show). */
export function shortId(id: string): string {
  return id.slice(0, 12);
}
