/**
 * The `nfvkit.v1.Controller` handlers: translate each RPC to a `ControllerApi` call and back,
 * with request checks of their own (required names, stats interval) and every failure mapped
 * by `errorToStatus`. Server streams are tracked so shutdown can end them, and each stream
 * unsubscribes / stops its timer when the client cancels or the server closes it.
 *
 * @example
 * ```ts
 * const service = new ControllerService(api, (err, method) => log.error(method, err));
 * server.addService(controllerServiceDefinition(), service.handlers());
 * // on shutdown:
 * service.endStreams();
 * ```
 */
import type {
  sendUnaryData,
  ServerUnaryCall,
  ServerWritableStream,
  StatusObject,
  UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { ControllerApi, Unsubscribe } from '../controller/controller-api.ts';
import type { FieldViolation } from './status-details.ts';
import { errorToStatus, InvalidRequestError } from './status-mapping.ts';
import { backendStateFromWire, backendToWire, type WireListBackendsRequest, type WireListBackendsResponse, type WireSetBackendStateRequest, type WireSetBackendStateResponse } from './backend-wire.ts';
import { applyResultToWire, chainSummaryToWire, chainToWire, eventToWire, functionToWire, instanceToWire, snapshotToWire } from './wire-convert.ts';
import type {
  WireApplyChainRequest,
  WireApplyChainResponse,
  WireChainNameRequest,
  WireControllerEvent,
  WireEmpty,
  WireGetChainResponse,
  WireListChainsRequest,
  WireListChainsResponse,
  WireListInstancesRequest,
  WireListInstancesResponse,
  WireScaleFunctionRequest,
  WireScaleFunctionResponse,
  WireStatsSnapshot,
  WireStreamStatsRequest,
  WireWatchEventsRequest,
  WireCaptureRequest,
  WireCaptureChunk,
  WireTraceRequest,
  WirePacketTrace,
} from './wire-types.ts';
import type { TraceSession } from '../trace/trace-session.ts';
import type { CaptureSession } from '../capture/capture-session.ts';
import { FilterSyntaxError } from '../errors/catalog.ts';

/** StreamStats interval when the request leaves it 0. */
export const DEFAULT_STATS_INTERVAL_MS = 1000;
/** Shortest StreamStats interval accepted. */
export const MIN_STATS_INTERVAL_MS = 100;
/** Longest StreamStats interval accepted. */
export const MAX_STATS_INTERVAL_MS = 600_000;

/** How often a Capture stream sends what its queue holds, ms. */
export const CAPTURE_FLUSH_MS = 10;
/** How often a Trace stream looks for complete packets, ms. */
export const TRACE_POLL_MS = 20;

/** Most frames in one CaptureChunk. */
export const CAPTURE_CHUNK_FRAMES = 256;

/** `source` of an ApplyChain request that names none. */
export const DEFAULT_APPLY_SOURCE = '<request>';

/** Called with errors that were not catalog errors (the client saw only INTERNAL). */
export type InternalErrorSink = (err: unknown, method: string) => void;

/** An open server stream, as shutdown sees it. */
interface OpenStream {
  /** Stops producing and ends the call with OK. */
  end(): void;
}

function requireText(violations: FieldViolation[], field: string, value: string): void {
  if (value.trim() === '') violations.push({ field, description: 'must not be empty' });
}

function check(violations: FieldViolation[]): void {
  if (violations.length > 0) throw new InvalidRequestError(violations);
}

/** The controller service bound to one `ControllerApi`. */
export class ControllerService {
  private readonly streams = new Set<OpenStream>();

  constructor(
    private readonly api: ControllerApi,
    private readonly onInternalError: InternalErrorSink,
  ) {}

  /** Number of server streams open now (WatchEvents + StreamStats). */
  get openStreams(): number {
    return this.streams.size;
  }

  /** Ends every open stream with OK (used on shutdown). */
  endStreams(): void {
    for (const s of [...this.streams]) s.end();
  }

  /** The handler map for `server.addService`. */
  handlers(): UntypedServiceImplementation {
    const api = this.api;
    return {
      ApplyChain: this.unary<WireApplyChainRequest, WireApplyChainResponse>('ApplyChain', async (req) => {
        const v: FieldViolation[] = [];
        requireText(v, 'yaml', req.yaml);
        check(v);
        return applyResultToWire(await api.apply(req.yaml, req.source === '' ? DEFAULT_APPLY_SOURCE : req.source));
      }),
      GetChain: this.unary<WireChainNameRequest, WireGetChainResponse>('GetChain', (req) => {
        const v: FieldViolation[] = [];
        requireText(v, 'name', req.name);
        check(v);
        return { chain: chainToWire(api.getChain(req.name)) };
      }),
      ListChains: this.unary<WireListChainsRequest, WireListChainsResponse>('ListChains', (req) => {
        const page = api.listChainSummaries({ pageSize: req.pageSize, pageToken: req.pageToken });
        return { chains: page.chains.map(chainSummaryToWire), nextPageToken: page.nextPageToken };
      }),
      DeleteChain: this.unary<WireChainNameRequest, WireEmpty>('DeleteChain', async (req) => {
        const v: FieldViolation[] = [];
        requireText(v, 'name', req.name);
        check(v);
        await api.deleteChain(req.name);
        return {};
      }),
      ListInstances: this.unary<WireListInstancesRequest, WireListInstancesResponse>('ListInstances', (req) => ({
        instances: api.listInstances(req.chain === '' ? undefined : req.chain).map(instanceToWire),
      })),
      ScaleFunction: this.unary<WireScaleFunctionRequest, WireScaleFunctionResponse>('ScaleFunction', async (req) => {
        const v: FieldViolation[] = [];
        requireText(v, 'chain', req.chain);
        requireText(v, 'function', req.function);
        check(v);
        return { function: functionToWire(await api.scaleFunction(req.chain, req.function, req.replicas)) };
      }),
      ListBackends: this.unary<WireListBackendsRequest, WireListBackendsResponse>('ListBackends', (req) => {
        const v: FieldViolation[] = [];
        requireText(v, 'chain', req.chain);
        check(v);
        return { backends: api.listBackends(req.chain, req.function === '' ? undefined : req.function).map(backendToWire) };
      }),
      SetBackendState: this.unary<WireSetBackendStateRequest, WireSetBackendStateResponse>('SetBackendState', async (req) => {
        const v: FieldViolation[] = [];
        requireText(v, 'chain', req.chain);
        requireText(v, 'service', req.service);
        requireText(v, 'backend', req.backend);
        const state = backendStateFromWire(req.state);
        if (state === undefined) v.push({ field: 'state', description: `must be BACKEND_STATE_ACTIVE, BACKEND_STATE_DRAINING or BACKEND_STATE_REMOVED, got ${String(req.state)}` });
        check(v);
        return { backend: backendToWire(await api.setBackendState(req.chain, req.function === '' ? undefined : req.function, req.service, req.backend, state!)) };
      }),
      WatchEvents: (call: ServerWritableStream<WireWatchEventsRequest, WireControllerEvent>) => this.watchEvents(call),
      StreamStats: (call: ServerWritableStream<WireStreamStatsRequest, WireStatsSnapshot>) => this.streamStats(call),
      Capture: (call: ServerWritableStream<WireCaptureRequest, WireCaptureChunk>) => this.capture(call),
      Trace: (call: ServerWritableStream<WireTraceRequest, WirePacketTrace>) => this.trace(call),
    };
  }

  private fail(err: unknown, method: string): StatusObject {
    const mapped = errorToStatus(err);
    if (mapped.unexpected) this.onInternalError(err, method);
    return mapped.status;
  }

  private unary<Req, Res>(method: string, run: (req: Req) => Res | Promise<Res>) {
    return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
      Promise.resolve()
        .then(() => run(call.request))
        .then(
          (res) => callback(null, res),
          (err: unknown) => callback(this.fail(err, method)),
        );
    };
  }

  /** Registers a stream; `stop` releases what it holds. Returns `finish`, idempotent. */
  private track(call: ServerWritableStream<unknown, unknown>, stop: () => void): { finish: () => void; done: () => boolean } {
    let finished = false;
    const entry: OpenStream = {
      end: () => {
        if (finished) return;
        finish();
        call.end();
      },
    };
    const finish = (): void => {
      if (finished) return;
      finished = true;
      this.streams.delete(entry);
      stop();
    };
    this.streams.add(entry);
    call.on('cancelled', finish);
    call.on('close', finish);
    return { finish, done: () => finished };
  }

  private failStream(call: ServerWritableStream<unknown, unknown>, finish: () => void, err: unknown, method: string): void {
    finish();
    call.emit('error', this.fail(err, method));
  }

  private watchEvents(call: ServerWritableStream<WireWatchEventsRequest, WireControllerEvent>): void {
    const { afterSeq, chain } = call.request;
    let off: Unsubscribe | undefined;
    const stream = this.track(call, () => off?.());
    try {
      off = this.api.subscribe((event) => {
        if (stream.done() || (chain !== '' && event.chain !== chain)) return;
        call.write(eventToWire(event));
      }, afterSeq);
      // The client may have gone while history was replayed synchronously.
      if (stream.done()) off();
    } catch (err) {
      this.failStream(call, stream.finish, err, 'WatchEvents');
    }
  }

  private streamStats(call: ServerWritableStream<WireStreamStatsRequest, WireStatsSnapshot>): void {
    const { chain, intervalMs } = call.request;
    let timer: NodeJS.Timeout | undefined;
    let blocked = false;
    const stream = this.track(call, () => clearInterval(timer));
    const onDrain = (): void => {
      blocked = false;
    };
    const tick = (): void => {
      if (stream.done() || blocked) return; // a slow reader skips snapshots rather than queueing them
      try {
        const rates = this.api.stats(chain === '' ? undefined : chain);
        if (!call.write(snapshotToWire(Date.now(), rates))) {
          blocked = true;
          call.once('drain', onDrain);
        }
      } catch (err) {
        this.failStream(call, stream.finish, err, 'StreamStats');
      }
    };
    try {
      const period = intervalMs === 0 ? DEFAULT_STATS_INTERVAL_MS : intervalMs;
      if (period < MIN_STATS_INTERVAL_MS || period > MAX_STATS_INTERVAL_MS) {
        throw new InvalidRequestError([
          { field: 'interval_ms', description: `must be 0 (default ${DEFAULT_STATS_INTERVAL_MS}) or ${MIN_STATS_INTERVAL_MS}..${MAX_STATS_INTERVAL_MS}, got ${intervalMs}` },
        ]);
      }
      if (chain !== '') this.api.getChain(chain);
      timer = setInterval(tick, period);
    } catch (err) {
      this.failStream(call, stream.finish, err, 'StreamStats');
      return;
    }
    tick();
  }
  /**
   * Capture: a chunk naming the link, then every `CAPTURE_FLUSH_MS` the frames queued since,
   * until the session finishes (count reached, chain deleted) or the client cancels. While
   * the client does not read (`write` returns false) the stream waits for `drain` and the
   * session's queue fills: further frames are counted as `dropped`, the chain never waits.
   */
  private capture(call: ServerWritableStream<WireCaptureRequest, WireCaptureChunk>): void {
    const req = call.request;
    let session: CaptureSession | undefined;
    let timer: NodeJS.Timeout | undefined;
    let blocked = false;
    const stream = this.track(call, () => {
      clearInterval(timer);
      session?.close();
    });
    const onDrain = (): void => {
      blocked = false;
    };
    const flush = (): void => {
      if (stream.done() || blocked || session === undefined) return;
      const s = session;
      const q = s.queue;
      const frames: WireCaptureChunk['frames'] = [];
      while (q.count > 0 && frames.length < CAPTURE_CHUNK_FRAMES) {
        const ms = q.timeMs();
        const sec = Math.floor(ms / 1000);
        frames.push({
          data: Buffer.from(q.frame()),
          originalLength: q.originalLength(),
          timeSec: sec,
          timeNsec: Math.min(999_999_999, Math.floor((ms - sec * 1000) * 1e6)),
          toward: q.toward() === 1 ? 'LINK_SIDE_OUTSIDE' : 'LINK_SIDE_INSIDE',
        });
        q.pop();
      }
      const finished = s.finished;
      if (frames.length > 0 || finished) {
        if (!call.write({ frames, dropped: s.dropped, link: '', matched: s.matched })) {
          blocked = true;
          call.once('drain', onDrain);
        }
      }
      if (finished && q.count === 0) {
        stream.finish();
        call.end();
      }
    };
    try {
      const v: FieldViolation[] = [];
      requireText(v, 'chain', req.chain);
      check(v);
      session = withFilterField(() =>
        this.api.openCapture(req.chain, {
          function: req.function,
          side: req.side === 'LINK_SIDE_OUTSIDE' ? 'outside' : 'inside',
          count: req.count,
          filter: req.filter,
          snaplen: req.snaplen,
        }),
      );
      // The client may have gone while the capture was being set up.
      if (stream.done()) {
        session.close();
        return;
      }
      call.write({ frames: [], dropped: 0, link: session.link, matched: 0 });
      timer = setInterval(flush, CAPTURE_FLUSH_MS);
    } catch (err) {
      this.failStream(call, stream.finish, err, 'Capture');
    }
  }
  /**
   * Trace: one message per traced packet as it completes (left the chain, dropped, or
   * nothing more came for it), then OK once `count` packets are out or at the timeout. The
   * session ends when the client cancels.
   */
  private trace(call: ServerWritableStream<WireTraceRequest, WirePacketTrace>): void {
    const req = call.request;
    let session: TraceSession | undefined;
    let timer: NodeJS.Timeout | undefined;
    const stream = this.track(call, () => {
      clearInterval(timer);
      session?.close();
    });
    const poll = (): void => {
      if (stream.done() || session === undefined) return;
      // At most `count` (≤ 1000) small messages in all: no back-pressure needed.
      for (const p of session.poll()) {
        call.write({
          seq: p.seq,
          timeUnixMs: p.timeMs,
          entered: p.entered,
          packet: p.packet,
          functions: p.functions.map((f) => ({ ...f, steps: f.steps.map((st) => ({ ...st, rewrites: [...st.rewrites], notes: [...st.notes] })) })),
          lost: p.lost,
        });
      }
      if (session.finished) {
        stream.finish();
        call.end();
      }
    };
    try {
      const v: FieldViolation[] = [];
      requireText(v, 'chain', req.chain);
      check(v);
      session = withFilterField(() => this.api.openTrace(req.chain, { count: req.count, filter: req.filter, timeoutMs: req.timeoutMs }));
      if (stream.done()) {
        session.close();
        return;
      }
      timer = setInterval(poll, TRACE_POLL_MS);
    } catch (err) {
      this.failStream(call, stream.finish, err, 'Trace');
    }
  }
}

/** Runs `open` (a capture or trace with a packet filter); a filter that does not parse is an INVALID_ARGUMENT on field `filter`. */
function withFilterField<T>(open: () => T): T {
  try {
    return open();
  } catch (err) {
    if (err instanceof FilterSyntaxError) throw new InvalidRequestError([{ field: 'filter', description: err.message.replace(/^filter /, '') }]);
    throw err;
  }
}
