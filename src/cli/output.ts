/**
 * Output of the listing commands: `-o text` (aligned tables, the default), `-o json`
 * (pretty JSON) or `-o yaml`. Streams (`events -f`, `top`) print one compact JSON object per
 * line with `-o json`, one YAML document per item with `-o yaml`.
 *
 * @example
 * ```ts
 * const table = renderTable([{ header: 'NAME', value: (c: ChainStatus) => c.name }], chains);
 * printResult(ctx, opts.output, chains, () => table);
 * ```
 */
import { Option } from 'commander';
import { stringify as toYaml } from 'yaml';
import { println, type CliContext } from './cli-context.ts';

/** The formats of `-o`. */
export const OUTPUT_FORMATS = ['text', 'json', 'yaml'] as const;

/** One of {@link OUTPUT_FORMATS}. */
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** The `-o, --output <format>` option (text, json or yaml; default text). */
export function outputOption(): Option {
  return new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS).default('text');
}

/** One column of a text table. */
export interface Column<T> {
  readonly header: string;
  readonly value: (row: T) => string;
  /** Right-align (numbers). */
  readonly right?: boolean;
}

/**
 * Renders rows as a table: a header line, then one line per row, columns two spaces apart,
 * padded to the widest cell, trailing spaces removed. No trailing newline.
 */
export function renderTable<T>(columns: readonly Column<T>[], rows: readonly T[]): string {
  const cells = [columns.map((c) => c.header), ...rows.map((r) => columns.map((c) => c.value(r)))];
  const widths = columns.map((_, i) => Math.max(...cells.map((line) => line[i].length)));
  return cells
    .map((line) => line.map((cell, i) => (columns[i].right === true ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join('  ').trimEnd())
    .join('\n');
}

/** `data` as pretty JSON or YAML (no trailing newline). */
export function renderData(format: 'json' | 'yaml', data: unknown): string {
  return format === 'json' ? JSON.stringify(data, null, 2) : toYaml(data).trimEnd();
}

/** Prints `data` in `format`; `text` prints what `renderText()` returns. */
export function printResult(ctx: CliContext, format: OutputFormat, data: unknown, renderText: () => string): void {
  println(ctx, format === 'text' ? renderText() : renderData(format, data));
}

/** Prints one item of a stream: a JSON line, or a YAML document starting with `---`. */
export function printStreamItem(ctx: CliContext, format: 'json' | 'yaml', item: unknown): void {
  println(ctx, format === 'json' ? JSON.stringify(item) : `---\n${toYaml(item).trimEnd()}`);
}
