/**
 * Parsers for numeric flags: a bad value is a commander usage error (exit 2) that names the
 * flag's expectation, e.g. `error: option '--replicas <n>' argument 'x' is invalid. expected
 * a whole number >= 0`.
 *
 * @example
 * ```ts
 * cmd.option('--count <n>', 'stop after n snapshots', wholeNumber(1));
 * cmd.option('--older-than <duration>', 'age', durationMs);          // '10m' → 600000
 * cmd.option('--cap <bytes>', 'size', byteSize);                      // '512Mi' → 536870912
 * ```
 */
import { InvalidArgumentError as CommanderInvalidArgument } from 'commander';

/** A parser accepting whole numbers in `min..max`. */
export function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const n = /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new CommanderInvalidArgument(max === Number.MAX_SAFE_INTEGER ? `expected a whole number >= ${min}` : `expected a whole number from ${min} to ${max}`);
    }
    return n;
  };
}

/** A parser accepting positive decimal numbers (seconds, …). */
export function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new CommanderInvalidArgument('expected a number > 0');
  return n;
}

const DURATION_UNITS_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A parser of durations → ms: one or more `<number><unit>` with units `ms`, `s`, `m`, `h`,
 * `d` (`500ms`, `90s`, `10m`, `1h30m`, `1.5h`), or `0`.
 */
export function durationMs(value: string): number {
  const text = value.trim();
  if (text === '0') return 0;
  const parts = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/.test(text) ? text.match(/\d+(?:\.\d+)?(?:ms|s|m|h|d)/g) : null;
  if (parts === null) throw new CommanderInvalidArgument('expected a duration such as 90s, 10m, 1h30m or 0');
  let ms = 0;
  for (const part of parts) {
    const [, n, unit] = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(part)!;
    ms += Number(n) * DURATION_UNITS_MS[unit];
  }
  if (!Number.isSafeInteger(Math.round(ms))) throw new CommanderInvalidArgument('duration too long');
  return Math.round(ms);
}

const BYTE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  B: 1,
  k: 1e3, kB: 1e3, K: 1e3, KB: 1e3,
  M: 1e6, MB: 1e6,
  G: 1e9, GB: 1e9,
  T: 1e12, TB: 1e12,
  Ki: 2 ** 10, KiB: 2 ** 10,
  Mi: 2 ** 20, MiB: 2 ** 20,
  Gi: 2 ** 30, GiB: 2 ** 30,
  Ti: 2 ** 40, TiB: 2 ** 40,
};

/**
 * A parser of sizes → bytes (> 0): a whole number of bytes, or a number with a unit, binary
 * (`Ki`, `Mi`, `Gi`, `Ti`, also `KiB` …: powers of 1024, as in chain specs' `memory`) or
 * decimal (`k`, `M`, `G`, `T`, also `kB` …: powers of 1000): `512Mi`, `2GiB`, `1.5G`.
 */
export function byteSize(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(value);
  const scale = m === null ? undefined : BYTE_UNITS[m[2]];
  const bytes = m === null || scale === undefined ? Number.NaN : Math.floor(Number(m[1]) * scale);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new CommanderInvalidArgument('expected a size > 0 such as 536870912, 512Mi, 2Gi or 500M');
  return bytes;
}
