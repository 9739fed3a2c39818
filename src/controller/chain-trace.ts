/**
 * Traces on the controller's chains: checks a trace request and starts a `TraceSession` on
 * the chain's data plane (one at a time per chain), and ends the sessions of a chain that
 * goes.
 *
 * @example
 * ```ts
 * const trace = traces.openOn(chainRuntime, { count: 1, filter: 'tcp and syn and not ack' });
 * ```
 */
import { compileFilter } from '../capture/packet-filter.ts';
import { FailedPreconditionError, InvalidArgumentError } from '../errors/catalog.ts';
import { TraceSession } from '../trace/trace-session.ts';
import type { ChainRuntime } from './chain-runtime.ts';
import type { TraceRequest } from './controller-api.ts';

/** Most packets one trace asks for. */
export const MAX_TRACE_COUNT = 1000;
/** How long a trace waits for its packets when the request names no timeout, ms. */
export const DEFAULT_TRACE_TIMEOUT_MS = 10_000;
/** Longest timeout a trace may ask for, ms. */
export const MAX_TRACE_TIMEOUT_MS = 600_000;

/** The traces running on the controller's chains. */
export class ChainTraces {
  private readonly open = new Map<ChainRuntime, TraceSession>();

  /**
   * Starts tracing the next `request.count` packets that enter `chain` and pass the filter.
   * Throws `FilterSyntaxError`, `InvalidArgumentError` (count, timeout) or
   * `FailedPreconditionError` (a trace already runs on the chain, or it is being deleted).
   * Where the chain's ends run in its replicas, their ports mark the packets.
   */
  openOn(chain: ChainRuntime, request: TraceRequest): TraceSession {
    const { count } = request;
    const timeoutMs = request.timeoutMs === undefined || request.timeoutMs === 0 ? DEFAULT_TRACE_TIMEOUT_MS : request.timeoutMs;
    if (!Number.isInteger(count) || count < 1 || count > MAX_TRACE_COUNT) throw new InvalidArgumentError(`count must be 1..${MAX_TRACE_COUNT}, got ${count}`);
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TRACE_TIMEOUT_MS) {
      throw new InvalidArgumentError(`timeout must be 0 (${DEFAULT_TRACE_TIMEOUT_MS} ms) or 1..${MAX_TRACE_TIMEOUT_MS} ms, got ${timeoutMs}`);
    }
    const filter = compileFilter(request.filter ?? '');
    if (chain.phase === 'Deleting') throw new FailedPreconditionError(`chain "${chain.name}" is being deleted`);
    const running = this.open.get(chain);
    if (running !== undefined && !running.finished) throw new FailedPreconditionError(`a trace is already running on chain "${chain.name}"`);
    // With the ends in the replicas, their own ports mark the packets entering, through the chain's ingress trace block.
    const ends = chain.replicaEnds;
    const session = new TraceSession(chain.dataPlane, chain.name, filter, count, timeoutMs, ends === undefined ? undefined : { block: ends.traceBlock, filterText: filter.source });
    this.open.set(chain, session);
    return session;
  }

  /** Ends the trace running on `chain` (it is being deleted). */
  closeAll(chain: ChainRuntime): void {
    this.open.get(chain)?.close();
    this.open.delete(chain);
  }
}
