/**
 * The messages of `proto/nfvkit/v1/controller.proto` as JavaScript objects, in the shape
 * proto-loader produces and accepts with `PROTO_LOADER_OPTIONS` (camelCase fields,
 * 64-bit integers as numbers, enums as names). Kept by hand next to the `.proto`; the
 * conversion to and from the controller's types is in `wire-convert.ts`.
 *
 * @example
 * ```ts
 * const req: WireScaleFunctionRequest = { chain: 'web-edge', function: 'lb', replicas: 3 };
 * ```
 */

/** `nfvkit.v1.FunctionStatus`. */
export interface WireFunctionStatus {
  name: string;
  function: string;
  imageId: string;
  desiredReplicas: number;
  readyReplicas: number;
  min: number;
  max: number;
  target: number;
  failures: number;
  restartDelayMs: number;
  nextRestartUnixMs: number;
}

/** `nfvkit.v1.ChainStatus`; `phase` is a `CHAIN_PHASE_*` name. */
export interface WireChainStatus {
  name: string;
  generation: number;
  phase: string;
  phaseReason: string;
  functions: WireFunctionStatus[];
  specYaml: string;
  appliedAtUnixMs: number;
  placement: string;
  placementReason: string;
  /** '' from a server that does not say. */
  ends: string;
  endsReason: string;
  endFigures: Record<string, number>;
}

/** `nfvkit.v1.InstanceStatus`; `state` is an `INSTANCE_STATE_*` name. */
export interface WireInstanceStatus {
  id: string;
  chain: string;
  function: string;
  imageId: string;
  state: string;
  reason: string;
  startedAtUnixMs: number;
  bootMs: number;
  flows: number;
}

/** `nfvkit.v1.ControllerEvent`; `type` is an `EVENT_TYPE_*` name. */
export interface WireControllerEvent {
  seq: number;
  timeUnixMs: number;
  type: string;
  chain: string;
  function: string;
  instance: string;
  reason: string;
  details: Record<string, string>;
}

/** `nfvkit.v1.InstanceRates`. */
export interface WireInstanceRates {
  instance: string;
  chain: string;
  function: string;
  rxPps: number;
  txPps: number;
  dropPps: number;
  rxBps: number;
  queueOccupancy: number;
  busyRatio: number;
}

/** `nfvkit.v1.StatsSnapshot`. */
export interface WireStatsSnapshot {
  timeUnixMs: number;
  instances: WireInstanceRates[];
}

/** `nfvkit.v1.ApplyChainRequest`. */
export interface WireApplyChainRequest {
  yaml: string;
  source: string;
}

/** `nfvkit.v1.ApplyChainResponse`. */
export interface WireApplyChainResponse {
  chain: WireChainStatus | null;
  changed: boolean;
}

/** `nfvkit.v1.GetChainRequest` and `nfvkit.v1.DeleteChainRequest`. */
export interface WireChainNameRequest {
  name: string;
}

/** `nfvkit.v1.GetChainResponse`. */
export interface WireGetChainResponse {
  chain: WireChainStatus | null;
}

/** `nfvkit.v1.FunctionSummary`. */
export interface WireFunctionSummary {
  name: string;
  function: string;
  readyReplicas: number;
  desiredReplicas: number;
}

/** `nfvkit.v1.ChainSummary`; `phase` is a `CHAIN_PHASE_*` name. */
export interface WireChainSummary {
  name: string;
  generation: number;
  phase: string;
  placement: string;
  functions: WireFunctionSummary[];
  appliedAtUnixMs: number;
}

/** `nfvkit.v1.ListChainsRequest`. */
export interface WireListChainsRequest {
  pageSize: number;
  pageToken: string;
}

/** `nfvkit.v1.ListChainsResponse`. */
export interface WireListChainsResponse {
  chains: WireChainSummary[];
  nextPageToken: string;
}

/** `nfvkit.v1.ListInstancesRequest`. */
export interface WireListInstancesRequest {
  chain: string;
}

/** `nfvkit.v1.ListInstancesResponse`. */
export interface WireListInstancesResponse {
  instances: WireInstanceStatus[];
}

/** `nfvkit.v1.ScaleFunctionRequest`. */
export interface WireScaleFunctionRequest {
  chain: string;
  function: string;
  replicas: number;
}

/** `nfvkit.v1.ScaleFunctionResponse`. */
export interface WireScaleFunctionResponse {
  function: WireFunctionStatus | null;
}

/** `nfvkit.v1.WatchEventsRequest`. */
export interface WireWatchEventsRequest {
  afterSeq: number;
  chain: string;
}

/** `nfvkit.v1.StreamStatsRequest`. */
export interface WireStreamStatsRequest {
  chain: string;
  intervalMs: number;
}

/** An empty message (`DeleteChainResponse`). */
export type WireEmpty = Record<string, never>;

/** `nfvkit.v1.CaptureRequest`; `side` is a `LINK_SIDE_*` name. */
export interface WireCaptureRequest {
  chain: string;
  function: string;
  side: string;
  count: number;
  filter: string;
  snaplen: number;
}

/** `nfvkit.v1.CapturedFrame`; `toward` is a `LINK_SIDE_*` name. */
export interface WireCapturedFrame {
  data: Uint8Array;
  originalLength: number;
  timeSec: number;
  timeNsec: number;
  toward: string;
}

/** `nfvkit.v1.CaptureChunk`. */
export interface WireCaptureChunk {
  frames: WireCapturedFrame[];
  dropped: number;
  link: string;
  matched: number;
}

/** `nfvkit.v1.TraceRequest`. */
export interface WireTraceRequest {
  chain: string;
  count: number;
  filter: string;
  timeoutMs: number;
}

/** `nfvkit.v1.TraceStep`. */
export interface WireTraceStep {
  element: string;
  verdict: string;
  dropReason: string;
  rewrites: string[];
  notes: string[];
}

/** `nfvkit.v1.FunctionTrace`. */
export interface WireFunctionTrace {
  function: string;
  instance: string;
  arrived: string;
  packet: string;
  steps: WireTraceStep[];
}

/** `nfvkit.v1.PacketTrace`. */
export interface WirePacketTrace {
  seq: number;
  timeUnixMs: number;
  entered: string;
  packet: string;
  functions: WireFunctionTrace[];
  lost: number;
}
