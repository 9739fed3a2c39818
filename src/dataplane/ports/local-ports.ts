import { BufferRecycler } from '../../pool/buffer-recycler.ts';
import type { PoolHandle } from '../../pool/pool-handle.ts';
import type { ChainPort } from '../chain-port.ts';
import { IngressMarker } from '../../trace/ingress-marker.ts';
import { GeneratorPort } from './generator-port.ts';
import { ResponderPort } from './responder-port.ts';
import { ShardedClientsPort, type ClientCounterSlots, type ShardedClientsSpec } from './sharded-clients-port.ts';
import { SinkPort } from './sink-port.ts';

/**
 * A chain end an instance opens itself (placement with the ports in the instances): what
 * can cross to a worker as `workerData` (structured clone), nothing that needs the host.
 */
export type LocalPortSpec =
  /** Sends `frames` round robin, `total` in all (default: forever). */
  | { readonly type: 'generator'; readonly frames: readonly Uint8Array[]; readonly total?: number }
  /** Frees what leaves. */
  | { readonly type: 'sink' }
  /** Answers SYN and FIN with SYN-ACK and FIN-ACK (simulated servers), frees the rest. */
  | { readonly type: 'responder' }
  /** This replica's share of a generator's flows: the shards the host gives it in the shard block (`ShardedClientsPort`). */
  | ({ readonly type: 'clients' } & ShardedClientsSpec);

/** Both ends of one instance. */
export interface LocalPortsSpec {
  readonly inside: LocalPortSpec;
  readonly outside: LocalPortSpec;
  /**
   * The chain's ingress trace block (`src/trace/ingress-trace-layout.ts`), shared by all its
   * replicas: while it names a trace session, the ports mark what enters (`IngressMarker`).
   */
  readonly trace?: SharedArrayBuffer;
}

/** Slots of the counters (one float64 each, shared with the host) of an instance's local ports. */
export const LocalPortCounter = {
  /** Frames the inside port put into the chain. */
  INSIDE_IN: 0,
  /** Frames that left the chain at the inside port. */
  INSIDE_OUT: 1,
  OUTSIDE_IN: 2,
  OUTSIDE_OUT: 3,
  /** `clients`: flows opening or open (gauge). */
  FLOWS_OPEN: 4,
  /** `clients`: flows whose FIN is queued or sent, not yet answered (gauge). */
  FLOWS_CLOSING: 5,
  /** `clients`: flows opened (a SYN queued, or a UDP flow started). */
  FLOWS_OPENED: 6,
  /** `clients`: flows closed (FIN answered or timed out, or never sent). */
  FLOWS_CLOSED: 7,
  /** `clients`: flows opened on a shard another replica held before. */
  FLOWS_MOVED_IN: 8,
  /** `clients`: flows closed because their shard was given to another replica. */
  FLOWS_MOVED_OUT: 9,
  /** `clients`: SYNs unanswered after `CLIENT_ANSWER_TIMEOUT_MS` (the flow sends data anyway). */
  OPEN_TIMEOUTS: 10,
  /** `clients`: FINs unanswered after `CLIENT_ANSWER_TIMEOUT_MS` (the flow counts as closed). */
  CLOSE_TIMEOUTS: 11,
  /** `clients`: shards it holds (gauge). */
  SHARDS_HELD: 12,
  /** `clients`: the last shard-block sequence it applied (gauge). */
  SHARD_SEQ_SEEN: 13,
  /** `clients`: block reads refused (shard count not the one it was given). */
  BLOCK_REJECTED: 14,
  /** `clients`: answers naming no flow of its current connections, and resets. */
  STALE_REPLIES: 15,
  /** `responder`: SYN-ACKs sent back. */
  SYN_ACKS: 16,
  /** `responder`: FIN-ACKs sent back. */
  FIN_ACKS: 17,
} as const;

/** Where `clients` count their own figures. */
const CLIENT_SLOTS: ClientCounterSlots = {
  flowsOpen: LocalPortCounter.FLOWS_OPEN,
  flowsClosing: LocalPortCounter.FLOWS_CLOSING,
  flowsOpened: LocalPortCounter.FLOWS_OPENED,
  flowsClosed: LocalPortCounter.FLOWS_CLOSED,
  flowsMovedIn: LocalPortCounter.FLOWS_MOVED_IN,
  flowsMovedOut: LocalPortCounter.FLOWS_MOVED_OUT,
  openTimeouts: LocalPortCounter.OPEN_TIMEOUTS,
  closeTimeouts: LocalPortCounter.CLOSE_TIMEOUTS,
  shardsHeld: LocalPortCounter.SHARDS_HELD,
  seqSeen: LocalPortCounter.SHARD_SEQ_SEEN,
  blockRejected: LocalPortCounter.BLOCK_REJECTED,
  staleReplies: LocalPortCounter.STALE_REPLIES,
};

/** Number of `LocalPortCounter` slots. */
export const LOCAL_PORT_COUNTERS = Object.keys(LocalPortCounter).length;

/** The ports of one instance, counting into shared memory, and how to give back what they hold. */
export interface LocalPorts {
  readonly ports: readonly [ChainPort, ChainPort];
  /** Frees every buffer the ports still hold (a responder's pending answers, the buffers kept for reuse). */
  close(pool: PoolHandle): void;
}

/**
 * Opens an instance's ports from their spec; `counters` (`LOCAL_PORT_COUNTERS` slots) is
 * where they count, read by the host without messages. This module is the entry of the
 * port runtime an instance imports when its chain places the ports in the instances.
 *
 * @example
 * ```ts
 * const local = openLocalPorts({ inside: { type: 'generator', frames }, outside: { type: 'sink' } }, counters);
 * const loop = new InstanceLoop(pool, [eth0, eth1], pipeline, undefined, undefined, local.ports);
 * ```
 */
export function openLocalPorts(spec: LocalPortsSpec, counters: Float64Array): LocalPorts {
  if (counters.length < LOCAL_PORT_COUNTERS) throw new RangeError(`local port counters: ${counters.length} slots, ${LOCAL_PORT_COUNTERS} needed`);
  // What the sink is done with, the generator fills again (no pool lock, buffers stay on this core).
  const recycler = new BufferRecycler();
  const inside = openPort(spec.inside, counters, recycler);
  const outside = openPort(spec.outside, counters, recycler);
  const marker = spec.trace === undefined ? undefined : new IngressMarker(spec.trace);
  return {
    ports: [counting(inside, 0, counters, LocalPortCounter.INSIDE_IN, LocalPortCounter.INSIDE_OUT, marker), counting(outside, 1, counters, LocalPortCounter.OUTSIDE_IN, LocalPortCounter.OUTSIDE_OUT, marker)],
    close(pool) {
      const ids = new Uint32Array(256);
      for (const port of [inside, outside]) {
        if (!(port instanceof ResponderPort)) continue;
        for (let n = port.fill(pool, ids, ids.length); n > 0; n = port.fill(pool, ids, ids.length)) pool.freeBatch(ids, n);
      }
      recycler.drain(pool);
    },
  };
}

function openPort(spec: LocalPortSpec, counters: Float64Array, recycler: BufferRecycler): ChainPort {
  switch (spec.type) {
    case 'clients':
      return new ShardedClientsPort(spec, counters, CLIENT_SLOTS, recycler);
    case 'generator':
      return new GeneratorPort(spec.frames, { total: spec.total ?? Infinity, recycler });
    case 'sink':
      return new SinkPort({ recycler });
    case 'responder':
      return new ResponderPort();
  }
}

/** `port` on side `side`, counting what crosses it and, with a `marker`, marking it for trace sessions (one shared-word look per batch). */
function counting(port: ChainPort, side: number, counters: Float64Array, inSlot: number, outSlot: number, marker: IngressMarker | undefined): ChainPort {
  return {
    fill(pool, ids, max) {
      const n = port.fill(pool, ids, max);
      counters[inSlot] += n;
      if (marker !== undefined) marker.entered(pool, ids, n, side);
      return n;
    },
    take(pool, ids, n) {
      counters[outSlot] += n;
      if (marker !== undefined) marker.left(pool, ids, n);
      port.take(pool, ids, n);
      if (port instanceof ResponderPort) {
        counters[LocalPortCounter.SYN_ACKS] = port.synAcks;
        counters[LocalPortCounter.FIN_ACKS] = port.finAcks;
      }
    },
  };
}
