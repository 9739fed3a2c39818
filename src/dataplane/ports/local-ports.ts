import { FailedPreconditionError } from '../../errors/catalog.ts';
import { NativeUdpSocket } from '../../io/native-udp-socket.ts';
import { loadNativeAddon, type NativeAddon, type NativeHandle } from '../../native/native-addon.ts';
import { BufferRecycler } from '../../pool/buffer-recycler.ts';
import type { PoolHandle } from '../../pool/pool-handle.ts';
import type { ChainPort } from '../chain-port.ts';
import { IngressMarker } from '../../trace/ingress-marker.ts';
import { GeneratorPort } from './generator-port.ts';
import { ClassifierPort, type ClassifierRules } from './classifier-port.ts';
import { ResponderPort } from './responder-port.ts';
import { ShardedClientsPort, type ClientCounterSlots, type ShardedClientsSpec } from './sharded-clients-port.ts';
import { SinkPort } from './sink-port.ts';
import type { VxlanPortSettings } from './vxlan-port-config.ts';
import { VxlanPort, type VxlanPortOptions } from './vxlan-port.ts';
import { VxlanBlock, vxlanCounterBlock } from './vxlan-port-counters.ts';
import type { VxlanReplicaRef } from './vxlan-replica-group.ts';
import { VxlanReplicaShare } from './vxlan-replica-share.ts';
import { AREA_LOCK_TIMEOUT_MS, underMembershipLock } from './vxlan-replica-area.ts';

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
  | ({ readonly type: 'clients' } & ShardedClientsSpec)
  /** A VXLAN end with its L3 gateway (`VxlanPort`), its socket opened by the instance itself (`LocalVxlanSpec`). */
  | LocalVxlanSpec;

/**
 * A VXLAN end an instance opens itself: the socket is bound while the instance boots (before
 * `ready`, so before a process instance enters its sandbox), over the pool's memory, with
 * the native addon (an instance runs no event loop: the dgram back end cannot serve it).
 */
export interface LocalVxlanSpec {
  readonly type: 'vxlan';
  /** The port's validated configuration (`parseVxlanPortConfig`). */
  readonly settings: VxlanPortSettings;
  /** `VXLAN_PORT_COUNTERS` float64 slots (`vxlan-port-counters.ts`) the port publishes its figures in. */
  readonly counters: SharedArrayBuffer;
  /** Tuning: neighbour table, hold queues, send backlog, sweep interval, GSO, and `listenPort` to bind another port than `settings.listen.port`. */
  readonly options?: Omit<VxlanPortOptions, 'backend' | 'queueCapacity' | 'polled' | 'counters'>;
  /** Join the port's SO_REUSEPORT group (several replicas on one UDP port); implied by `replicas`. */
  readonly reusePort?: boolean;
  /** This replica's part in its end's group (`VxlanReplicaGroup.prepare`): steering, misdirected datagrams, shared neighbours. */
  readonly replicas?: VxlanReplicaRef;
}

/** Both ends of one instance. */
export interface LocalPortsSpec {
  readonly inside: LocalPortSpec;
  readonly outside: LocalPortSpec;
  /**
   * The chain's ingress trace block (`src/trace/ingress-trace-layout.ts`), shared by all its
   * replicas: while it names a trace session, the ports mark what enters (`IngressMarker`).
   */
  readonly trace?: SharedArrayBuffer;
  /**
   * The chain's classifier (`ClassifierPort`), in front of the inside port as on the host:
   * what it rejects is freed and counted in `LocalPortCounter.CLASSIFIER_REJECTED`.
   */
  readonly classifier?: ClassifierRules;
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
  /** Frames the chain's classifier rejected at the inside port (`LocalPortsSpec.classifier`). */
  CLASSIFIER_REJECTED: 18,
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
  /**
   * Present when a port has a socket: sleeps until a socket has datagrams waiting or
   * `timeoutMs` passed (the addon's waiter, one `epoll_wait`); true when a socket woke it.
   * The instance loop sleeps here instead of on its stop word.
   */
  readonly wait?: (timeoutMs: number) => boolean;
  /** Frees every buffer the ports still hold (a responder's pending answers, the buffers kept for reuse, held and unsent frames) and closes their sockets. */
  close(pool: PoolHandle): void;
}

/**
 * Opens an instance's ports from their spec; `counters` (`LOCAL_PORT_COUNTERS` slots) is
 * where they count, read by the host without messages. This module is the entry of the
 * port runtime an instance imports when its chain places the ports in the instances.
 * `poolMemory` (the pool's shared memory) is needed by socket ports (`vxlan`): their
 * sockets are bound over it here, while the instance boots; the ports themselves take the
 * instance's pool handle on their first call. A `vxlan` spec without the native addon
 * throws `FailedPreconditionError` (the host keeps such ends).
 *
 * @example
 * ```ts
 * const local = openLocalPorts({ inside: { type: 'generator', frames }, outside: { type: 'sink' } }, counters);
 * const loop = new InstanceLoop(pool, [eth0, eth1], pipeline, undefined, undefined, local.ports);
 * ```
 */
export function openLocalPorts(spec: LocalPortsSpec, counters: Float64Array, poolMemory?: SharedArrayBuffer): LocalPorts {
  if (counters.length < LOCAL_PORT_COUNTERS) throw new RangeError(`local port counters: ${counters.length} slots, ${LOCAL_PORT_COUNTERS} needed`);
  const sockets = new SocketPorts(poolMemory);
  // What the sink is done with, the generator fills again (no pool lock, buffers stay on this core).
  const recycler = new BufferRecycler();
  let inside: ChainPort = NO_PORT;
  let outside: ChainPort = NO_PORT;
  try {
    // Replicas of a VXLAN end bind one at a time, both ends at once, and log it: the
    // groups' order is then the log's, the same for both ends (`VxlanReplicaGroup`).
    sockets.membership(spec, member => member + 1, () => {
      inside = openPort(spec.inside, counters, recycler, sockets);
      outside = openPort(spec.outside, counters, recycler, sockets);
    });
  } catch (err) {
    sockets.close();
    throw err;
  }
  const marker = spec.trace === undefined ? undefined : new IngressMarker(spec.trace);
  const classified = spec.classifier === undefined ? inside : classifying(new ClassifierPort(inside, spec.classifier), counters);
  return {
    ports: [counting(classified, 0, counters, LocalPortCounter.INSIDE_IN, LocalPortCounter.INSIDE_OUT, marker), counting(outside, 1, counters, LocalPortCounter.OUTSIDE_IN, LocalPortCounter.OUTSIDE_OUT, marker)],
    ...(sockets.waiter === undefined ? {} : { wait: (timeoutMs: number) => sockets.wait(timeoutMs) }),
    close(pool) {
      const ids = new Uint32Array(256);
      for (const port of [inside, outside]) {
        if (!(port instanceof ResponderPort)) continue;
        for (let n = port.fill(pool, ids, ids.length); n > 0; n = port.fill(pool, ids, ids.length)) pool.freeBatch(ids, n);
      }
      sockets.close();
      recycler.drain(pool);
    },
  };
}

/** A port that is never used (replaced before the ports are handed out). */
const NO_PORT: ChainPort = { fill: () => 0, take: (pool, ids, n) => pool.freeBatch(ids, n) };

/** The socket ports of one instance: the addon, the waiter its loop sleeps on, and the ports to close. */
class SocketPorts {
  private addon: NativeAddon | undefined;
  waiter: NativeHandle | undefined;
  private readonly ports: LazyVxlanPort[] = [];
  private readonly shares: VxlanReplicaShare[] = [];

  constructor(private readonly poolMemory: SharedArrayBuffer | undefined) {}

  /**
   * Runs `body` (which opens the ports) under the membership lock of each replica group
   * the spec's VXLAN ends belong to, and logs `record(member)` in each; without groups, just
   * runs it. The shares are made here, before the lock.
   */
  membership(spec: LocalPortsSpec, record: (member: number) => number, body: () => void): void {
    const refs = [spec.inside, spec.outside].flatMap((p) => (p.type === 'vxlan' && p.replicas !== undefined ? [p.replicas] : []));
    if (refs.length === 0) {
      body();
      return;
    }
    const member = refs[0].member;
    if (refs.some((r) => r.member !== member)) throw new RangeError('both VXLAN ends of a replica have one member number');
    for (const r of refs) this.shares.push(new VxlanReplicaShare(r.area, r.members, r.member, r.ringCapacity));
    if (!underMembershipLock(this.shares, member, record(member), body)) {
      throw new FailedPreconditionError(`replica ${member}: the VXLAN group's membership lock stayed held for ${AREA_LOCK_TIMEOUT_MS} ms`);
    }
  }

  /** Opens a VXLAN end's socket now (the instance boots) and its port on the first call with a pool. */
  vxlan(spec: LocalVxlanSpec): ChainPort {
    const status = loadNativeAddon();
    if (!status.available) throw new FailedPreconditionError(`a VXLAN end in an instance needs the native addon (${status.reason}); without it the chain's VXLAN ends stay on the host`);
    if (this.poolMemory === undefined) throw new FailedPreconditionError('a VXLAN end in an instance needs the pool memory to bind its socket over');
    const counters = vxlanCounterBlock(new Float64Array(spec.counters));
    const addon = (this.addon = status.addon);
    const { settings, options = {}, replicas } = spec;
    const share = replicas === undefined ? undefined : this.shares.find((s) => s.words.buffer === replicas.area);
    const socket = NativeUdpSocket.openSync(addon, {
      listen: options.listenPort === undefined ? settings.listen : { address: settings.listen.address, port: options.listenPort },
      memory: new Uint8Array(this.poolMemory),
      receiveBufferBytes: settings.receiveBufferBytes,
      sendBufferBytes: 1 << 22,
      reusePort: spec.reusePort === true || replicas !== undefined,
      gso: options.gso,
    });
    try {
      this.waiter ??= addon.waiterOpen();
      socket.addToWaiter(this.waiter);
    } catch (err) {
      void socket.close();
      throw err;
    }
    // Which port it bound, known to the host as soon as the instance is ready.
    counters[VxlanBlock.LOCAL_PORT] = socket.localPort;
    counters[VxlanBlock.RECEIVE_BUFFER_BYTES] = socket.receiveBufferBytes;
    const port = new LazyVxlanPort(settings, socket, { ...options, polled: true, counters, ...(share === undefined ? {} : { share }) });
    this.ports.push(port);
    return port;
  }

  wait(timeoutMs: number): boolean {
    return this.addon!.waiterWait(this.waiter!, timeoutMs) > 0;
  }

  /** Frees what the ports hold and closes their sockets (logging it in their groups), then the waiter. */
  close(): void {
    const closeAll = () => {
      for (const port of this.ports) port.close();
    };
    // Logged only once the sockets were open (a failed open logged nothing).
    if (this.shares.length > 0 && this.ports.length > 0) {
      const member = this.shares[0].member;
      // Without the lock the sockets close all the same; the host removes the member when it learns the replica stopped.
      if (!underMembershipLock(this.shares, member, -(member + 1), closeAll)) closeAll();
    } else closeAll();
    this.ports.length = 0;
    if (this.waiter !== undefined) this.addon!.waiterClose(this.waiter);
    this.waiter = undefined;
  }
}

/**
 * A `VxlanPort` over a socket opened while the instance booted, made on the first call
 * (when the instance's pool handle is known). One body: the host's port, polled.
 */
class LazyVxlanPort implements ChainPort {
  private port: VxlanPort | undefined;

  constructor(
    private readonly settings: VxlanPortSettings,
    private readonly socket: NativeUdpSocket,
    private readonly options: VxlanPortOptions,
  ) {}

  fill(pool: PoolHandle, ids: Uint32Array, max: number): number {
    return (this.port ??= VxlanPort.over(this.settings, this.socket, pool, this.options)).fill(pool, ids, max);
  }

  take(pool: PoolHandle, ids: Uint32Array, n: number): void {
    (this.port ??= VxlanPort.over(this.settings, this.socket, pool, this.options)).take(pool, ids, n);
  }

  /** Frees held and unsent frames and closes the socket (synchronously: the native socket closes at once). */
  close(): void {
    if (this.port === undefined) void this.socket.close();
    else void this.port.close();
  }
}

function openPort(spec: LocalPortSpec, counters: Float64Array, recycler: BufferRecycler, sockets: SocketPorts): ChainPort {
  switch (spec.type) {
    case 'vxlan':
      return sockets.vxlan(spec);
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

/** The classifier in front of the inside port, its rejections counted in shared memory after each fill that rejected some. */
function classifying(port: ClassifierPort, counters: Float64Array): ChainPort {
  return {
    fill(pool, ids, max) {
      const n = port.fill(pool, ids, max);
      if (port.rejected !== counters[LocalPortCounter.CLASSIFIER_REJECTED]) counters[LocalPortCounter.CLASSIFIER_REJECTED] = port.rejected;
      return n;
    },
    take: (pool, ids, n) => port.take(pool, ids, n),
  };
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
