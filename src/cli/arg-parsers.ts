/**
 * Parsers for numeric flags: a bad value is a commander usage error (exit 2) that names the
 * flag's expectation, e.g. `error: option '--replicas <n>' argument 'x' is invalid. expected
 * a whole number >= 0`.
 *
 * @example
 * ```ts
 * cmd.option('--count <n>', 'stop after n snapshots', wholeNumber(1));
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
