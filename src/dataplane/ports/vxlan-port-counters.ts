import { GATEWAY_DROP_COUNT, GATEWAY_DROP_NAMES } from '../../gateway/gateway-drop-reason.ts';
import type { GatewayCounters } from '../../gateway/gateway-edge.ts';
import { VXLAN_DROP_COUNT, VXLAN_DROP_NAMES } from './vxlan-drop-reason.ts';

/**
 * The counter block of a `VxlanPort` that runs in an instance (its chain's ends placed in
 * the replicas): float64 slots in shared memory the port writes after its batches and the
 * host reads without a message. Layout: the fixed slots of `VxlanBlock`, then the
 * `GatewayCounters` in `GATEWAY_COUNTER_KEYS` order, then the VXLAN drops by `VxlanDrop`
 * code, then the gateway drops by `GatewayDrop` code.
 *
 * @example
 * ```ts
 * const block = new Float64Array(memory.allocate(VXLAN_PORT_COUNTERS * 8));
 * readVxlanPortCounters(block).received;
 * ```
 */
export const VxlanBlock = {
  RECEIVED: 0,
  SENT: 1,
  ENTERED: 2,
  LEFT: 3,
  /** Neighbour entries (gauge). */
  NEIGHBOURS: 4,
  /** Frames waiting for the socket to take them (gauge). */
  IN_FLIGHT: 5,
  /** The UDP port the socket bound (0 until it is open). */
  LOCAL_PORT: 6,
  /** SO_RCVBUF as granted. */
  RECEIVE_BUFFER_BYTES: 7,
  /** Replicas: datagrams the group's program meant for another replica's socket (`VxlanReplicaShare`). */
  MISDIRECTED: 8,
  /** Replicas: neighbours adopted from the other replicas. */
  NEIGHBOURS_ADOPTED: 9,
  /** Replicas: neighbour entries refused (width, peer or address not this end's). */
  NEIGHBOURS_REJECTED: 10,
  /** Replicas: neighbour entries lost to a writer that lapped this reader. */
  NEIGHBOUR_OVERRUNS: 11,
  /** Replicas: the steering sequence applied (gauge). */
  STEERING_SEQ: 12,
  /** Replicas: datagrams handed to the replica holding their flow (`VxlanReplicaShare.handOff`). */
  HANDED_OUT: 13,
  /** Replicas: datagrams other replicas handed to this one, injected into its receive path. */
  HANDED_IN: 14,
  /** Replicas: datagrams that could not be handed (the ring to their replica was full): dropped. */
  HANDOFF_LOST: 15,
  /** Replicas: handoff slots refused (a length or ring counter a peer wrote that cannot be). */
  HANDOFF_REJECTED: 16,
  /** Replicas: TCP starts the started-flow table had no room for. */
  STARTED_FLOWS_FULL: 17,
} as const;

/** The event counters of the gateway edge, in their slot order. */
export const GATEWAY_COUNTER_KEYS: readonly (keyof GatewayCounters)[] = [
  'forwarded',
  'sent',
  'arpRepliesSent',
  'arpRequestsSent',
  'arpRepliesReceived',
  'icmpTimeExceededSent',
  'echoRepliesSent',
  'learned',
  'held',
  'released',
  'neighbourAdvertisementsSent',
  'neighbourSolicitationsSent',
  'neighbourAdvertisementsReceived',
];

/** First gateway-counter slot. */
export const GATEWAY_COUNTERS_AT = Object.keys(VxlanBlock).length;
/** First VXLAN-drop slot. */
export const VXLAN_DROPS_AT = GATEWAY_COUNTERS_AT + GATEWAY_COUNTER_KEYS.length;
/** First gateway-drop slot. */
export const GATEWAY_DROPS_AT = VXLAN_DROPS_AT + VXLAN_DROP_COUNT;
/** Slots of one block. */
export const VXLAN_PORT_COUNTERS = GATEWAY_DROPS_AT + GATEWAY_DROP_COUNT;

/** What a block says, by name: the figures `VxlanPort.stats()` gives on the host. */
export interface VxlanBlockReading {
  readonly received: number;
  readonly sent: number;
  readonly entered: number;
  readonly left: number;
  readonly neighbours: number;
  readonly inFlight: number;
  readonly localPort: number;
  readonly receiveBufferBytes: number;
  readonly misdirected: number;
  readonly neighboursAdopted: number;
  readonly neighboursRejected: number;
  readonly neighbourOverruns: number;
  readonly steeringSeq: number;
  readonly handedOut: number;
  readonly handedIn: number;
  readonly handoffLost: number;
  readonly handoffRejected: number;
  readonly startedFlowsFull: number;
  readonly gateway: Readonly<GatewayCounters>;
  /** Every drop counter, each declared reason present: `port` (`VxlanDrop`) and `gateway` (`GatewayDrop`). */
  readonly drops: { readonly port: Readonly<Record<string, number>>; readonly gateway: Readonly<Record<string, number>> };
}

/** `block`, checked to hold a VXLAN port's counters (`VXLAN_PORT_COUNTERS` slots; shorter throws `RangeError`). */
export function vxlanCounterBlock(block: Float64Array): Float64Array {
  if (block.length < VXLAN_PORT_COUNTERS) throw new RangeError(`VXLAN port counters: ${block.length} slots, ${VXLAN_PORT_COUNTERS} needed`);
  return block;
}

/** Reads a block (`VXLAN_PORT_COUNTERS` slots; shorter throws `RangeError`). */
export function readVxlanPortCounters(block: Float64Array): VxlanBlockReading {
  vxlanCounterBlock(block);
  const gateway = {} as GatewayCounters;
  GATEWAY_COUNTER_KEYS.forEach((k, i) => (gateway[k] = block[GATEWAY_COUNTERS_AT + i]));
  const port: Record<string, number> = {};
  VXLAN_DROP_NAMES.forEach((name, code) => (port[name] = block[VXLAN_DROPS_AT + code]));
  const gw: Record<string, number> = {};
  GATEWAY_DROP_NAMES.forEach((name, code) => (gw[name] = block[GATEWAY_DROPS_AT + code]));
  return {
    received: block[VxlanBlock.RECEIVED],
    sent: block[VxlanBlock.SENT],
    entered: block[VxlanBlock.ENTERED],
    left: block[VxlanBlock.LEFT],
    neighbours: block[VxlanBlock.NEIGHBOURS],
    inFlight: block[VxlanBlock.IN_FLIGHT],
    localPort: block[VxlanBlock.LOCAL_PORT],
    receiveBufferBytes: block[VxlanBlock.RECEIVE_BUFFER_BYTES],
    misdirected: block[VxlanBlock.MISDIRECTED],
    neighboursAdopted: block[VxlanBlock.NEIGHBOURS_ADOPTED],
    neighboursRejected: block[VxlanBlock.NEIGHBOURS_REJECTED],
    neighbourOverruns: block[VxlanBlock.NEIGHBOUR_OVERRUNS],
    steeringSeq: block[VxlanBlock.STEERING_SEQ],
    handedOut: block[VxlanBlock.HANDED_OUT],
    handedIn: block[VxlanBlock.HANDED_IN],
    handoffLost: block[VxlanBlock.HANDOFF_LOST],
    handoffRejected: block[VxlanBlock.HANDOFF_REJECTED],
    startedFlowsFull: block[VxlanBlock.STARTED_FLOWS_FULL],
    gateway,
    drops: { port, gateway: gw },
  };
}
