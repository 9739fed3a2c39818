/**
 * What every `nfvkit` command runs against: the function registry, where its output goes,
 * the environment it reads (`NFVKIT_SERVER`, `NFVKIT_TOKEN`, …) and how a long-running
 * command (`up`, `events --follow`, `top`) learns that the user wants it to stop. The entry
 * point wires these to the process; tests pass their own to capture output.
 *
 * @example
 * ```ts
 * const lines: string[] = [];
 * const ctx = createCliContext(registry, { stdout: { write: (s) => lines.push(s) } });
 * println(ctx, 'chain/web-edge created');
 * ```
 */
import type { ChainEndFactory } from '../controller/chain-ends.ts';
import type { FunctionRegistry } from '../pipeline/function-registry.ts';

/** A sink for text output (a process stream, or a buffer in tests). */
export interface CliWriter {
  /** Writes text, or bytes (`capture -w -` writes a pcap). */
  write(text: string | Uint8Array): unknown;
  /** True when the output is a terminal: `top`/`up` then redraw in place. */
  readonly isTTY?: boolean;
  /** Terminal width, when known (long lines are cut on a terminal). */
  readonly columns?: number;
}

/** Everything a command needs from its surroundings. */
export interface CliContext {
  readonly registry: FunctionRegistry;
  readonly stdout: CliWriter;
  readonly stderr: CliWriter;
  /** Environment variables (`NFVKIT_SERVER`, `NFVKIT_TOKEN`). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /**
   * A signal that aborts when the user asks a long-running command to stop (Ctrl-C,
   * SIGTERM). Called only by such commands, so short ones keep the default signal handling.
   */
  stopSignal(): AbortSignal;
  /** Chain-end factories beyond the built-in ones (e.g. `vxlan`) for `nfvkit up`. */
  readonly endFactories?: Partial<Record<string, ChainEndFactory>>;
}

/** Overrides for {@link createCliContext}; unset fields use the process's streams and environment. */
export type CliContextOverrides = Partial<Omit<CliContext, 'registry'>>;

let processStop: AbortController | undefined;

/**
 * Aborts on the first SIGINT/SIGTERM; a second one exits at once (status 130), so a stuck
 * shutdown can always be interrupted.
 */
function processStopSignal(): AbortSignal {
  if (processStop !== undefined) return processStop.signal;
  const stop = new AbortController();
  processStop = stop;
  const onSignal = (name: NodeJS.Signals): void => {
    if (stop.signal.aborted) process.exit(130);
    stop.abort(new Error(`received ${name}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return stop.signal;
}

/** A context on the process (stdout, stderr, `process.env`, signals) with `overrides` applied. */
export function createCliContext(registry: FunctionRegistry, overrides: CliContextOverrides = {}): CliContext {
  return {
    registry,
    stdout: overrides.stdout ?? process.stdout,
    stderr: overrides.stderr ?? process.stderr,
    env: overrides.env ?? process.env,
    stopSignal: overrides.stopSignal ?? processStopSignal,
    ...(overrides.endFactories === undefined ? {} : { endFactories: overrides.endFactories }),
  };
}

/** Writes `text` and a newline to the context's stdout. */
export function println(ctx: CliContext, text = ''): void {
  ctx.stdout.write(`${text}\n`);
}

/** Writes `text` and a newline to the context's stderr. */
export function eprintln(ctx: CliContext, text: string): void {
  ctx.stderr.write(`${text}\n`);
}
