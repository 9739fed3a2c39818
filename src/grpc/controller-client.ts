/**
 * A typed, promise-based client for `nfvkit.v1.Controller` (for the CLI and tests). Unary
 * calls resolve to the controller's own types (`ChainStatus`, `InstanceStatus`, …) and
 * reject with {@link ControllerRpcError}; the two server streams are async iterables that
 * cancel the call when the loop is left early or `cancel()` is called.
 *
 * @example
 * ```ts
 * const client = createControllerClient('127.0.0.1:50051', { token: process.env.NFVKIT_TOKEN });
 * const { chain, changed } = await client.applyChain(readFileSync('web-edge.yaml', 'utf8'), 'web-edge.yaml');
 * for await (const e of client.watchEvents({ chain: chain.name })) console.log(e.seq, e.type, e.reason);
 * client.close();
 * ```
 */
import {
  Client,
  credentials as channelCredentials,
  Metadata,
  status as GrpcStatus,
  type CallOptions,
  type ChannelCredentials,
  type ChannelOptions,
  type ClientReadableStream,
  type ServiceError,
} from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import { service as healthService } from 'grpc-health-check';
import type { ApplyResult, CaptureRequest, TraceRequest, ChainPage, ChainStatus, ChainSummary, ControllerEvent, FunctionStatus, InstanceStatus, ListChainsRequest } from '../controller/controller-api.ts';
import { controllerServiceDefinition } from './controller-proto.ts';
import type { BackendStateName } from '../backends/backend-control-layout.ts';
import type { BackendStatus } from '../controller/backend-status.ts';
import { backendFromWire, backendStateToWire, type WireListBackendsResponse, type WireSetBackendStateResponse } from './backend-wire.ts';
import { ControllerRpcError, toControllerRpcError } from './controller-rpc-error.ts';
import type { Pem } from './server-tls.ts';
import type { StatsSnapshot } from './stats-snapshot.ts';
import { chainFromWire, chainSummaryFromWire, eventFromWire, functionFromWire, instanceFromWire, snapshotFromWire } from './wire-convert.ts';
import type {
  WireApplyChainResponse,
  WireChainStatus,
  WireControllerEvent,
  WireGetChainResponse,
  WireListChainsResponse,
  WireListInstancesResponse,
  WireScaleFunctionResponse,
  WireStatsSnapshot,
  WireCaptureChunk,
  WireCaptureRequest,
  WirePacketTrace,
  WireTraceRequest,
} from './wire-types.ts';
import type { PacketTraceView } from '../trace/trace-session.ts';

/** TLS towards the controller. */
export interface ClientTlsOptions {
  /** CA that signed the server certificate (PEM); system roots when absent. */
  readonly ca?: Pem;
  /** Client certificate chain and key (PEM) for mutual TLS. */
  readonly cert?: Pem;
  readonly key?: Pem;
  /** Expected name in the server certificate when it differs from the dialled host. */
  readonly serverName?: string;
}

/** Options of {@link createControllerClient}. */
export interface ControllerClientOptions {
  /** Bearer token sent as `authorization: Bearer <token>` on every call (also over plaintext loopback). */
  readonly token?: string;
  /** Use TLS (plaintext when absent). */
  readonly tls?: ClientTlsOptions;
  /** Deadline for each unary call, in ms; none when absent (an apply may build images for a while). */
  readonly deadlineMs?: number;
  /** Extra grpc-js channel options. */
  readonly channelOptions?: ChannelOptions;
}

/** A server stream as an async iterable; `cancel()` ends it (the loop then finishes normally). */
export interface ControllerStream<T> extends AsyncIterable<T> {
  cancel(): void;
}

/** `grpc.health.v1` serving status. */
export type HealthStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

/** The controller, remotely. */
export interface ControllerClient {
  applyChain(yaml: string, source?: string): Promise<ApplyResult>;
  /** One chain with its spec. */
  getChain(name: string): Promise<ChainStatus>;
  /** Every chain's summary, ordered by name: follows the pages (`pageSize` per call). */
  listChains(options?: { pageSize?: number }): Promise<ChainSummary[]>;
  /** One page of chain summaries; pass its `nextPageToken` back for the next ('' after the last). */
  listChainsPage(request?: ListChainsRequest): Promise<ChainPage>;
  deleteChain(name: string): Promise<void>;
  /** Instances of `chain`, or of every chain when omitted. */
  listInstances(chain?: string): Promise<InstanceStatus[]>;
  scaleFunction(chain: string, fn: string, replicas: number): Promise<FunctionStatus>;
  /** The backends of `chain`'s function `fn` ('' or omitted: its only function with backends). */
  listBackends(chain: string, fn?: string): Promise<BackendStatus[]>;
  /** Drains, removes or re-activates one backend for every instance of the function. */
  setBackendState(chain: string, fn: string, service: string, backend: string, state: BackendStateName): Promise<BackendStatus>;
  /** History after `afterSeq` (default 0: all), then live events; only `chain`'s when given. */
  watchEvents(request?: { afterSeq?: number; chain?: string }): ControllerStream<ControllerEvent>;
  /** A snapshot now, then one every `intervalMs` (default 1000, min 100). */
  streamStats(request?: { chain?: string; intervalMs?: number }): ControllerStream<StatsSnapshot>;
  /**
   * Frames crossing one link of `chain` (see `ControllerApi.openCapture`): a first chunk
   * naming the link, then the frames as they are copied; ends after `count` frames.
   */
  capture(chain: string, request?: CaptureRequest): ControllerStream<CaptureChunk>;
  /** The next `count` packets entering `chain` that pass the filter, each traced through every function (`ControllerApi.openTrace`). */
  trace(chain: string, request: TraceRequest): ControllerStream<PacketTraceView>;
  /** `grpc.health.v1.Health/Check` for `service` (default `""`: the whole server). */
  checkHealth(service?: string): Promise<HealthStatus>;
  /** Resolves once the channel is connected, rejects after `timeoutMs`. */
  waitForReady(timeoutMs: number): Promise<void>;
  /** Closes the channel; open streams are cancelled. */
  close(): void;
}

const toBuffer = (pem: Pem | undefined): Buffer | null => (pem === undefined ? null : typeof pem === 'string' ? Buffer.from(pem, 'utf8') : pem);

function channelCredentialsFor(tls: ClientTlsOptions | undefined): ChannelCredentials {
  if (tls === undefined) return channelCredentials.createInsecure();
  return channelCredentials.createSsl(toBuffer(tls.ca), toBuffer(tls.key), toBuffer(tls.cert));
}

/** One frame of a capture, as the client hands it out. */
export interface CapturedFrame {
  /** The frame from its Ethernet header, cut to the capture's snaplen. */
  readonly data: Uint8Array;
  /** Its length on the link. */
  readonly originalLength: number;
  /** When the controller copied it: Unix seconds and nanoseconds within the second. */
  readonly timeSec: number;
  readonly timeNsec: number;
  /** Which way it moved: toward the chain's outside, or back inside. */
  readonly toward: 'inside' | 'outside';
}

/** One message of a capture stream. */
export interface CaptureChunk {
  readonly frames: readonly CapturedFrame[];
  /** Frames that matched but found the controller's queue full, since the start. */
  readonly dropped: number;
  /** Frames that matched since the start. */
  readonly matched: number;
  /** The link captured (first chunk only; '' after). */
  readonly link: string;
}

function captureChunkFromWire(w: WireCaptureChunk): CaptureChunk {
  return {
    frames: w.frames.map((f) => ({
      data: f.data,
      originalLength: f.originalLength,
      timeSec: f.timeSec,
      timeNsec: f.timeNsec,
      toward: f.toward === 'LINK_SIDE_OUTSIDE' ? 'outside' : 'inside',
    })),
    dropped: w.dropped,
    matched: w.matched,
    link: w.link,
  };
}

/** Most messages buffered ahead of a slow `for await` loop before the stream is paused. */
const STREAM_HIGH_WATER = 64;

/** Adapts a grpc-js readable stream to an async iterable that converts and maps errors. */
function iterateStream<W, T>(call: ClientReadableStream<W>, convert: (w: W) => T): ControllerStream<T> {
  const queue: T[] = [];
  let failure: ControllerRpcError | undefined;
  let ended = false;
  let cancelled = false;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  call.on('data', (w: W) => {
    queue.push(convert(w));
    if (queue.length >= STREAM_HIGH_WATER) call.pause();
    notify();
  });
  call.on('error', (err: ServiceError) => {
    // Our own cancel surfaces as CANCELLED: a normal end, not a failure.
    if (!(cancelled && err.code === GrpcStatus.CANCELLED)) failure = toControllerRpcError(err);
    ended = true;
    notify();
  });
  call.on('end', () => {
    ended = true;
    notify();
  });
  const cancel = (): void => {
    if (ended || cancelled) return;
    cancelled = true;
    call.cancel();
  };
  async function* generate(): AsyncGenerator<T> {
    try {
      for (;;) {
        if (queue.length > 0) {
          const item = queue.shift() as T;
          if (queue.length < STREAM_HIGH_WATER / 2 && call.isPaused()) call.resume();
          yield item;
          continue;
        }
        if (failure) throw failure;
        if (ended) return;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      cancel();
    }
  }
  const iterable = generate();
  return {
    cancel,
    [Symbol.asyncIterator]: () => iterable,
  };
}

/**
 * Creates a client for the controller at `address` (`host:port`). The channel connects on
 * the first call; `close()` it when done.
 */
export function createControllerClient(address: string, options: ControllerClientOptions = {}): ControllerClient {
  const channelOptions: ChannelOptions = { ...options.channelOptions };
  if (options.tls?.serverName !== undefined) {
    channelOptions['grpc.ssl_target_name_override'] = options.tls.serverName;
    channelOptions['grpc.default_authority'] = options.tls.serverName;
  }
  const client = new Client(address, channelCredentialsFor(options.tls), channelOptions);
  const methods = controllerServiceDefinition();
  const healthCheck = healthService.Check as MethodDefinition<object, { status: string }>;

  const metadata = (): Metadata => {
    const md = new Metadata();
    if (options.token !== undefined) md.set('authorization', `Bearer ${options.token}`);
    return md;
  };
  const callOptions = (): CallOptions => (options.deadlineMs === undefined ? {} : { deadline: Date.now() + options.deadlineMs });

  function unary<Res>(method: MethodDefinition<object, object>, request: object): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        metadata(),
        callOptions(),
        (err, res) => (err ? reject(toControllerRpcError(err)) : resolve(res as Res)),
      );
    });
  }

  function stream<W, T>(method: MethodDefinition<object, object>, request: object, convert: (w: W) => T): ControllerStream<T> {
    const call = client.makeServerStreamRequest(method.path, method.requestSerialize, method.responseDeserialize, request, metadata(), {});
    return iterateStream(call as unknown as ClientReadableStream<W>, convert);
  }

  const m = (name: string): MethodDefinition<object, object> => methods[name] as MethodDefinition<object, object>;
  const requireChain = (w: WireChainStatus | null): ChainStatus => {
    if (w === null) throw new ControllerRpcError(GrpcStatus.INTERNAL, 'server sent no chain', undefined, []);
    return chainFromWire(w);
  };

  const listChainsPage = async (request: ListChainsRequest = {}): Promise<ChainPage> => {
    const res = await unary<WireListChainsResponse>(m('ListChains'), { pageSize: request.pageSize ?? 0, pageToken: request.pageToken ?? '' });
    return { chains: res.chains.map(chainSummaryFromWire), nextPageToken: res.nextPageToken };
  };

  return {
    async applyChain(yaml, source = '') {
      const res = await unary<WireApplyChainResponse>(m('ApplyChain'), { yaml, source });
      return { chain: requireChain(res.chain), changed: res.changed };
    },
    async getChain(name) {
      return requireChain((await unary<WireGetChainResponse>(m('GetChain'), { name })).chain);
    },
    listChainsPage,
    async listChains(options = {}) {
      const all: ChainSummary[] = [];
      const seen = new Set<string>();
      let pageToken = '';
      do {
        const page = await listChainsPage({ pageSize: options.pageSize ?? 0, pageToken });
        all.push(...page.chains);
        if (page.nextPageToken !== '' && seen.has(page.nextPageToken)) {
          throw new ControllerRpcError(GrpcStatus.INTERNAL, 'server repeated a page token', undefined, []);
        }
        seen.add(page.nextPageToken);
        pageToken = page.nextPageToken;
      } while (pageToken !== '');
      return all;
    },
    async deleteChain(name) {
      await unary<object>(m('DeleteChain'), { name });
    },
    async listInstances(chain = '') {
      return (await unary<WireListInstancesResponse>(m('ListInstances'), { chain })).instances.map(instanceFromWire);
    },
    async scaleFunction(chain, fn, replicas) {
      const res = await unary<WireScaleFunctionResponse>(m('ScaleFunction'), { chain, function: fn, replicas });
      if (res.function === null) throw new ControllerRpcError(GrpcStatus.INTERNAL, 'server sent no function', undefined, []);
      return functionFromWire(res.function);
    },
    async listBackends(chain, fn = '') {
      return (await unary<WireListBackendsResponse>(m('ListBackends'), { chain, function: fn })).backends.map(backendFromWire);
    },
    async setBackendState(chain, fn, service, backend, state) {
      const res = await unary<WireSetBackendStateResponse>(m('SetBackendState'), { chain, function: fn, service, backend, state: backendStateToWire(state) });
      if (res.backend === null) throw new ControllerRpcError(GrpcStatus.INTERNAL, 'server sent no backend', undefined, []);
      return backendFromWire(res.backend);
    },
    watchEvents(request = {}) {
      return stream<WireControllerEvent, ControllerEvent>(m('WatchEvents'), { afterSeq: request.afterSeq ?? 0, chain: request.chain ?? '' }, eventFromWire);
    },
    streamStats(request = {}) {
      return stream<WireStatsSnapshot, StatsSnapshot>(m('StreamStats'), { chain: request.chain ?? '', intervalMs: request.intervalMs ?? 0 }, snapshotFromWire);
    },
    capture(chain, request = {}) {
      const wire: WireCaptureRequest = {
        chain,
        function: request.function ?? '',
        side: request.side === 'outside' ? 'LINK_SIDE_OUTSIDE' : 'LINK_SIDE_INSIDE',
        count: request.count ?? 0,
        filter: request.filter ?? '',
        snaplen: request.snaplen ?? 0,
      };
      return stream<WireCaptureChunk, CaptureChunk>(m('Capture'), wire, captureChunkFromWire);
    },
    trace(chain, request) {
      const wire: WireTraceRequest = { chain, count: request.count, filter: request.filter ?? '', timeoutMs: request.timeoutMs ?? 0 };
      return stream<WirePacketTrace, PacketTraceView>(m('Trace'), wire, (w) => ({ ...w, timeMs: w.timeUnixMs }));
    },
    async checkHealth(service = '') {
      const res = await unary<{ status: string }>(healthCheck as unknown as MethodDefinition<object, object>, { service });
      return res.status as HealthStatus;
    },
    waitForReady(timeoutMs) {
      return new Promise<void>((resolve, reject) => {
        client.waitForReady(Date.now() + timeoutMs, (err) => (err ? reject(err) : resolve()));
      });
    },
    close() {
      client.close();
    },
  };
}
