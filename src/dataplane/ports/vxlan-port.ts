import type { GatewayEdgeOptions } from '../../gateway/gateway-config.ts';
import { EGRESS_DROP, EGRESS_HELD, GatewayEdge, GatewayVerdict, type GatewayCounters, type GatewayWire } from '../../gateway/gateway-edge.ts';
import { openBatchedUdpSocket, type BatchedUdpSocket, type UdpBackend } from '../../io/batched-udp-socket.ts';
import { UDP_DESC_WORDS, UDP_MAX_BATCH, UDP_RX_TRUNCATED, UdpRx, UdpTx } from '../../io/udp-descriptor.ts';
import { parseIpv4 } from '../../packet/ipv4.ts';
import type { PoolHandle } from '../../pool/pool-handle.ts';
import type { ChainPort } from '../chain-port.ts';
import { readUdpSocketDrops } from './udp-socket-drops.ts';
import { GATEWAY_DROP_NAMES } from '../../gateway/gateway-drop-reason.ts';
import { VXLAN_DROP_COUNT, VXLAN_DROP_NAMES, VxlanDrop } from './vxlan-drop-reason.ts';
import { readVxlanVni, VXLAN_HEADER_LENGTH, VxlanHeaderError, writeVxlanHeader } from './vxlan-header.ts';
import type { VxlanPortSettings } from './vxlan-port-config.ts';
import { KEEP, type VxlanReplicaShare } from './vxlan-replica-share.ts';
import { GATEWAY_COUNTER_KEYS, GATEWAY_COUNTERS_AT, GATEWAY_DROPS_AT, VXLAN_DROPS_AT, VxlanBlock, vxlanCounterBlock } from './vxlan-port-counters.ts';

/** Tuning of a `VxlanPort` (the YAML config says what; these say how much). */
export interface VxlanPortOptions extends GatewayEdgeOptions {
  /** Socket back end: `'auto'` (default) is the native addon where it is built, dgram otherwise. */
  readonly backend?: UdpBackend | 'auto';
  /** dgram back end: received datagrams waiting for `fill` before new ones are dropped (default 4096). */
  readonly queueCapacity?: number;
  /** Frames kept for sending while the socket would block, before new ones are dropped (default 2048). */
  readonly sendBacklog?: number;
  /** Send runs of equal-size frames to one peer as one `UDP_SEGMENT` message (native back end; default true). */
  readonly gso?: boolean;
  /** How often `fill` ages the neighbour table, ms (default 250). */
  readonly sweepIntervalMs?: number;
  /** Binds this UDP port instead of `settings.listen.port`; 0: an ephemeral one (tests, benchmarks; `localPort` says which). */
  readonly listenPort?: number;
  /**
   * Polled: no event loop runs on this thread (an instance's loop, which sleeps on its
   * sockets with the addon's waiter): every `fill` tries a receive and every call retries
   * the send backlog, and no readiness callback is registered. Default false (the host's
   * event-driven pump).
   */
  readonly polled?: boolean;
  /**
   * A counter block (`VXLAN_PORT_COUNTERS` float64 slots, `vxlan-port-counters.ts`) the port
   * writes its figures into after each call that changed them, for a host that reads
   * them from shared memory (the port runs in an instance).
   */
  readonly counters?: Float64Array;
  /**
   * This port is one replica's socket of a SO_REUSEPORT group (the chain's ends in its
   * replicas): steering, neighbours shared with the other replicas (`VxlanReplicaShare`),
   * looked at once per `fill`; each datagram routed (`route`) and handed to the replica
   * holding its flow (or the next one that may) when that is another, and the datagrams handed to this one received
   * with the socket's, in the same batch (at most half of it when the socket has more).
   */
  readonly share?: VxlanReplicaShare;
}

/** A snapshot of a port's counters. */
export interface VxlanPortStats {
  /** Which socket implementation carries the datagrams. */
  readonly backend: UdpBackend;
  /** Datagrams received from the socket. */
  readonly received: number;
  /** Datagrams sent (frames out of the chain, ARP, ICMP replies). */
  readonly sent: number;
  /** Frames put into the chain. */
  readonly entered: number;
  /** Frames taken from the chain. */
  readonly left: number;
  /** Every non-zero drop counter: VXLAN reasons, `gateway:<reason>`, and `socket_rcvbuf` (kernel drops at this socket). */
  readonly drops: Readonly<Record<string, number>>;
  readonly gateway: Readonly<GatewayCounters>;
  /** Datagrams waiting in a user-space receive queue (dgram back end only). */
  readonly queued: number;
  /** Frames waiting to be sent because the socket would block. */
  readonly inFlight: number;
  /** SO_RCVBUF the kernel granted (doubled, as Linux reports it). */
  readonly receiveBufferBytes: number;
  /** Neighbour entries (resolved or not). */
  readonly neighbours: number;
}

/** Datagrams per receive call. */
const RX_BATCH = 256;

/**
 * A chain end that carries real traffic: VXLAN over UDP (RFC 7348) to and from the kernel's
 * `vxlan` devices, with the chain's edge acting as an L3 gateway (`GatewayEdge`).
 *
 * - `fill` receives a batch of datagrams with one system call straight into fresh pool
 *   buffers (`BatchedUdpSocket`): each lands so that its inner IP header is 4-byte aligned,
 *   the VXLAN header in the buffer's headroom. The sender is checked (a peer's address, or
 *   an `allowedSources` prefix; else `unknown_source`), then the frame (VNI → peer, and
 *   that peer is the sender; else `peer_mismatch`) and handed
 *   to the gateway where it landed: into the chain (TTL or hop limit decremented), straight
 *   back to the peer (ARP reply, neighbour advertisement, ICMP/ICMPv6 time exceeded, echo
 *   reply), or dropped and counted. Inner frames are IPv4 or IPv6; the underlay is IPv4.
 * - `take` hands each frame that leaves the chain to the gateway (route by longest prefix,
 *   MACs rewritten, or held while ARP or neighbour discovery resolves), writes the VXLAN header into the headroom
 *   in front of the frame and sends the batch with one system call, from the pool.
 *   Datagrams the socket would not take yet stay in a bounded backlog and go out when it is
 *   writable again; beyond the backlog they are dropped and counted.
 * - `onReadable(cb)` tells an event-driven host when datagrams are waiting.
 *
 * With the native addon no byte is copied by JavaScript; with the dgram fallback the
 * socket copies once each way. Drops are counted by reason (`stats().drops`), including the
 * kernel's own drops at this socket when its receive buffer overflows.
 *
 * @example
 * ```ts
 * const inside = await VxlanPort.open(parseVxlanPortConfig({   // src/ports/vxlan.ts: the port's one schema
 *   listen: { address: '198.19.0.1' },
 *   gateway: { addresses: ['198.18.1.1/24'] },
 *   peers: [{ name: 'client', vni: 100, remote: '198.19.0.2', subnets: ['198.18.1.0/24'] }],
 * }), dataPlane.pool, { listenPort: 0 });
 * await chain.run(inside, outside, () => done, 10_000);
 * await inside.close();
 * ```
 */
export class VxlanPort implements ChainPort {
  readonly settings: VxlanPortSettings;
  readonly gateway: GatewayEdge;
  readonly socket: BatchedUdpSocket;
  /** Socket-layer drops by `VxlanDrop` code. */
  readonly drops = new Float64Array(VXLAN_DROP_COUNT);
  received = 0;
  sent = 0;
  entered = 0;
  left = 0;
  private readonly pool: PoolHandle;
  private readonly vnis: Uint32Array;
  private readonly peerAddress: Uint32Array;
  private readonly peerPort: Uint16Array;
  /** Source port each peer's datagrams must come from; 0: any. */
  private readonly peerSourcePort: Uint16Array;
  /** `allowedSources` as network and mask pairs (host order). */
  private readonly allowedNet: Uint32Array;
  private readonly allowedMask: Uint32Array;
  /** Where a received frame starts inside its buffer: its IP header (14 bytes on) 4-byte aligned. */
  private readonly frameOffset: number;
  private readonly rxRows = new Uint32Array(RX_BATCH * UDP_DESC_WORDS);
  /** Handoffs each handed-in datagram of the batch took. */
  private readonly rxHops = new Uint8Array(RX_BATCH);
  /** Send backlog: frames (pool ids, still owned) and their rows, in order. */
  private readonly txIds: Uint32Array;
  private readonly txRows: Uint32Array;
  private txCount = 0;
  private waitingWritable = false;
  /** Buffers to free at the end of a call. */
  private readonly spare = new Uint32Array(RX_BATCH > UDP_MAX_BATCH ? RX_BATCH : UDP_MAX_BATCH);
  private spareCount = 0;
  private readonly one = new Uint32Array(1);
  private readonly sweepIntervalMs: number;
  private nextSweep = 0;
  private now = 0;
  /** Datagrams may be waiting: set when the socket signals, cleared when a receive drains it. */
  private readable = false;
  /** Buffers to offer the next receive: grows toward `RX_BATCH` while receives fill it, so a trickle does not allocate a whole batch per datagram. */
  private rxWant = 16;
  private onReadableCallback: (() => void) | null = null;
  private readonly polled: boolean;
  private readonly block: Float64Array | undefined;
  private readonly share: VxlanReplicaShare | undefined;
  /** `received + left` and the sweep count at the last publish: nothing new, nothing written. */
  private publishedAt = -1;
  private sweeps = 0;
  private readonly flushWhenWritable = (): void => {
    this.waitingWritable = false;
    this.flush();
  };
  /**
   * The socket signalled: note it, stop listening until a receive drains it (a level-
   * triggered poll would otherwise fire every loop turn while the chain is not pumping),
   * and tell the host.
   */
  private readonly socketReadable = (): void => {
    this.readable = true;
    this.socket.onReadable(null);
    this.onReadableCallback?.();
  };

  private constructor(settings: VxlanPortSettings, socket: BatchedUdpSocket, pool: PoolHandle, options: VxlanPortOptions) {
    this.settings = settings;
    this.socket = socket;
    this.pool = pool;
    this.vnis = Uint32Array.from(settings.peers, (p) => p.vni);
    this.peerAddress = Uint32Array.from(settings.peers, (p) => parseIpv4(p.remote) ?? 0);
    this.peerPort = Uint16Array.from(settings.peers, (p) => p.port);
    this.peerSourcePort = Uint16Array.from(settings.peers, (p) => p.sourcePort);
    this.allowedNet = Uint32Array.from(settings.allowedSources, (c) => c.addr);
    this.allowedMask = Uint32Array.from(settings.allowedSources, (c) => c.mask);
    let off = pool.headroom;
    while ((off + 14) % 4 !== 0) off++;
    this.frameOffset = off;
    const backlog = options.sendBacklog ?? 2048;
    this.txIds = new Uint32Array(backlog);
    this.txRows = new Uint32Array(backlog * UDP_DESC_WORDS);
    this.sweepIntervalMs = options.sweepIntervalMs ?? 250;
    this.polled = options.polled === true;
    this.block = options.counters === undefined ? undefined : vxlanCounterBlock(options.counters);
    const share = (this.share = options.share);
    const wire: GatewayWire = {
      emit: (peer, frame, length) => this.emit(peer, frame, length),
      release: (handle) => this.releaseHeld(handle),
      discard: (handle) => this.freeOne(handle),
      ...(share === undefined ? {} : { learned: share.learned.bind(share) }),
    };
    this.gateway = new GatewayEdge(
      {
        addresses: settings.addresses,
        addresses6: settings.addresses6,
        mac: settings.mac,
        peerSubnets: settings.peers.map((p) => p.subnets),
        peerSubnets6: settings.peers.map((p) => p.subnets6),
      },
      wire,
      options,
    );
    share?.bind(this.gateway, socket);
    if (this.polled) this.readable = true;
    else socket.onReadable(this.socketReadable);
    this.publish();
  }

  /**
   * Binds the socket of a validated configuration (`parseVxlanPortConfig`, or
   * `openVxlanPort` for both steps) over `pool`'s memory (throws `NetlabError` if that
   * fails) and returns the port. `pool` is the handle `fill` and `take` are called with.
   */
  static async open(settings: VxlanPortSettings, pool: PoolHandle, options: VxlanPortOptions = {}): Promise<VxlanPort> {
    const socket = await openBatchedUdpSocket({
      listen: options.listenPort === undefined ? settings.listen : { address: settings.listen.address, port: options.listenPort },
      memory: pool.bytes,
      receiveBufferBytes: settings.receiveBufferBytes,
      sendBufferBytes: 1 << 22,
      backend: options.backend,
      gso: options.gso,
      queueCapacity: options.queueCapacity,
    });
    return new VxlanPort(settings, socket, pool, options);
  }

  /**
   * A port over a socket opened already (bound over `pool.bytes`): how an instance, which
   * opens its sockets while it boots and runs no event loop, makes its VXLAN ends
   * (`local-ports.ts`, with `polled`). The port owns the socket from here on.
   */
  static over(settings: VxlanPortSettings, socket: BatchedUdpSocket, pool: PoolHandle, options: VxlanPortOptions = {}): VxlanPort {
    return new VxlanPort(settings, socket, pool, options);
  }

  /** UDP port the port receives on (useful after listening on port 0). */
  get localPort(): number {
    return this.socket.localPort;
  }

  /** `callback` runs from the event loop when datagrams arrive after a `fill` drained the socket; `null` stops. */
  onReadable(callback: (() => void) | null): void {
    this.onReadableCallback = callback;
    if (callback !== null && this.readable) callback();
  }

  fill(pool: PoolHandle, ids: Uint32Array, max: number): number {
    const now = performance.now();
    this.now = now;
    if (now >= this.nextSweep) {
      this.nextSweep = now + this.sweepIntervalMs;
      this.gateway.sweep(now);
      this.sweeps++;
    }
    if (this.share !== undefined) this.share.sync(now);
    if (this.polled && this.txCount > 0) this.flush();
    if (max <= 0 || !this.readable) return this.filled(0);
    // Datagrams other replicas handed to this one ride in the same batch as the socket's.
    const waiting = this.share === undefined ? 0 : this.share.waiting();
    let want = max < this.rxWant + waiting ? max : this.rxWant + waiting;
    if (want > RX_BATCH) want = RX_BATCH;
    const got = pool.allocBatch(ids, want);
    if (got === 0) return this.filled(0);
    const reserve = waiting < got - (got >> 1) ? waiting : got - (got >> 1);
    const fromSocket = got - reserve;
    const rows = this.rxRows;
    const at = this.frameOffset - VXLAN_HEADER_LENGTH;
    const capacity = pool.stride - at;
    for (let i = 0; i < fromSocket; i++) {
      const r = i * UDP_DESC_WORDS;
      rows[r + UdpRx.offset] = pool.bufferOffset(ids[i]) + at;
      rows[r + UdpRx.capacity] = capacity;
    }
    let received = fromSocket === 0 ? 0 : this.socket.receive(rows, fromSocket);
    if (received < 0) {
      this.drops[VxlanDrop.RECEIVE_ERROR]++;
      received = 0;
    }
    if (received < fromSocket) {
      // Drained: listen again (datagrams that came meanwhile signal at once); polled, the
      // next fill simply tries again.
      if (!this.polled) {
        this.readable = false;
        this.socket.onReadable(this.socketReadable);
      }
      this.rxWant = received * 2 > 16 ? received * 2 : 16;
    } else if (this.rxWant < RX_BATCH) {
      this.rxWant = this.rxWant * 2 < RX_BATCH ? this.rxWant * 2 : RX_BATCH;
    }
    this.received += received;
    // Then what was handed in, into the buffers the socket did not fill.
    let total = received;
    if (waiting > 0) {
      const share = this.share!;
      while (total < got) {
        const offset = pool.bufferOffset(ids[total]) + at;
        const len = share.receiveHanded(pool.view, offset, capacity);
        if (len < 0) break;
        const r = total * UDP_DESC_WORDS;
        rows[r + UdpRx.offset] = offset;
        rows[r + UdpRx.length] = len;
        rows[r + UdpRx.address] = share.handedAddress;
        rows[r + UdpRx.port] = share.handedPort;
        rows[r + UdpRx.flags] = 0;
        this.rxHops[total] = share.handedHops;
        total++;
      }
    }
    const meta = pool.meta;
    const view = pool.view;
    const bytes = pool.bytes;
    const vnis = this.vnis;
    const peers = vnis.length;
    const peerAddress = this.peerAddress;
    const peerSourcePort = this.peerSourcePort;
    const allowedNet = this.allowedNet;
    const allowedMask = this.allowedMask;
    const allowed = allowedNet.length;
    const gw = this.gateway;
    const share = this.share;
    let inBytes = 0;
    // ids[0..n) go into the chain (n ≤ i: compaction overwrites only what was read).
    let n = 0;
    for (let i = 0; i < total; i++) {
      const id = ids[i];
      const r = i * UDP_DESC_WORDS;
      const len = rows[r + UdpRx.length];
      if (i < received) inBytes += len;
      // The sender first: a peer's address (and source port, where the peer names one) or
      // an allowed prefix; anything else is dropped before its bytes are looked at.
      const source = rows[r + UdpRx.address];
      const sourcePort = rows[r + UdpRx.port];
      let admitted = false;
      for (let a = 0; a < allowed; a++) {
        if (((source & allowedMask[a]) >>> 0) === allowedNet[a]) {
          admitted = true;
          break;
        }
      }
      if (!admitted) {
        let known = 0;
        while (known < peers && (peerAddress[known] !== source || (peerSourcePort[known] !== 0 && peerSourcePort[known] !== sourcePort))) known++;
        if (known === peers) {
          this.drop(VxlanDrop.UNKNOWN_SOURCE, id);
          continue;
        }
      }
      if ((rows[r + UdpRx.flags] & UDP_RX_TRUNCATED) !== 0) {
        this.drop(VxlanDrop.TRUNCATED, id);
        continue;
      }
      // One replica of several: the replica holding the datagram's flow takes it.
      if (share !== undefined) {
        const hops = i < received ? 0 : this.rxHops[i];
        const to = share.route(view, rows[r + UdpRx.offset], len, hops);
        if (to !== KEEP) {
          share.handOff(to, view, rows[r + UdpRx.offset], len, source, sourcePort, hops + 1);
          this.spare[this.spareCount++] = id;
          continue;
        }
      }
      const vni = readVxlanVni(bytes, rows[r + UdpRx.offset], len);
      if (vni < 0) {
        this.drop(vni === VxlanHeaderError.RUNT ? VxlanDrop.RUNT : VxlanDrop.BAD_FLAGS, id);
        continue;
      }
      let peer = 0;
      while (peer < peers && vnis[peer] !== vni) peer++;
      if (peer === peers) {
        this.drop(VxlanDrop.UNKNOWN_VNI, id);
        continue;
      }
      // A peer may speak only its own VNI (unless an allowed prefix admits the sender).
      if (!admitted && (peerAddress[peer] !== source || (peerSourcePort[peer] !== 0 && peerSourcePort[peer] !== sourcePort))) {
        this.drop(VxlanDrop.PEER_MISMATCH, id);
        continue;
      }
      const frameLength = len - VXLAN_HEADER_LENGTH;
      if (frameLength < 14) {
        this.drop(VxlanDrop.RUNT, id);
        continue;
      }
      meta.dataOff[id] = this.frameOffset;
      meta.length[id] = frameLength;
      const verdict = gw.fromWire(view, pool.dataOffset(id), frameLength, peer, now);
      if (verdict === GatewayVerdict.FORWARD) {
        ids[n++] = id;
      } else if (verdict === GatewayVerdict.REPLY) {
        meta.length[id] = gw.replyLength;
        this.enqueue(peer, id);
      } else {
        this.spare[this.spareCount++] = id;
      }
    }
    for (let i = total; i < got; i++) this.spare[this.spareCount++] = ids[i];
    this.freeSpare();
    if (received > 0) pool.countIn(received, inBytes);
    this.entered += n;
    if (this.txCount > 0) this.flush();
    return this.filled(n);
  }

  /** End of a `fill`: publishes the counters when there is something new. */
  private filled(n: number): number {
    if (this.block !== undefined && this.stamp() !== this.publishedAt) this.publish();
    return n;
  }

  /** Writes the figures into the counter block (`options.counters`), if there is one. */
  private publish(): void {
    const b = this.block;
    if (b === undefined) return;
    this.publishedAt = this.stamp();
    b[VxlanBlock.RECEIVED] = this.received;
    b[VxlanBlock.SENT] = this.sent;
    b[VxlanBlock.ENTERED] = this.entered;
    b[VxlanBlock.LEFT] = this.left;
    b[VxlanBlock.NEIGHBOURS] = this.gateway.neighbours.count;
    b[VxlanBlock.IN_FLIGHT] = this.txCount;
    b[VxlanBlock.LOCAL_PORT] = this.socket.localPort;
    b[VxlanBlock.RECEIVE_BUFFER_BYTES] = this.socket.receiveBufferBytes;
    const counters = this.gateway.counters;
    for (let i = 0; i < GATEWAY_COUNTER_KEYS.length; i++) b[GATEWAY_COUNTERS_AT + i] = counters[GATEWAY_COUNTER_KEYS[i]];
    b.set(this.drops, VXLAN_DROPS_AT);
    b.set(this.gateway.drops, GATEWAY_DROPS_AT);
    const sc = this.share?.counters;
    if (sc !== undefined) {
      b[VxlanBlock.MISDIRECTED] = sc.misdirected;
      b[VxlanBlock.NEIGHBOURS_ADOPTED] = sc.adopted;
      b[VxlanBlock.NEIGHBOURS_REJECTED] = sc.rejected;
      b[VxlanBlock.NEIGHBOUR_OVERRUNS] = sc.overruns;
      b[VxlanBlock.STEERING_SEQ] = sc.steeringSeq;
      b[VxlanBlock.HANDED_OUT] = sc.handedOut;
      b[VxlanBlock.HANDED_IN] = sc.handedIn;
      b[VxlanBlock.HANDOFF_LOST] = sc.handoffLost;
      b[VxlanBlock.HANDOFF_REJECTED] = sc.handoffRejected;
      b[VxlanBlock.STARTED_FLOWS_FULL] = sc.flowsFull;
    }
  }

  /** Changes when any published figure may have: what came in or went out, sweeps, adoptions, steering. */
  private stamp(): number {
    const sc = this.share?.counters;
    return this.received + this.left + this.sweeps + (sc === undefined ? 0 : sc.adopted + sc.rejected + sc.overruns + sc.steeringSeq + sc.handedIn + sc.handoffLost + sc.handoffRejected + sc.misdirected);
  }

  take(pool: PoolHandle, ids: Uint32Array, n: number): void {
    const now = performance.now();
    this.now = now;
    const view = pool.view;
    const length = pool.meta.length;
    const gw = this.gateway;
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      const peer = gw.toWire(view, pool.dataOffset(id), length[id], id, now);
      if (peer === EGRESS_HELD) continue;
      if (peer === EGRESS_DROP) {
        this.spare[this.spareCount++] = id;
        if (this.spareCount === this.spare.length) this.freeSpare();
      } else {
        this.enqueue(peer, id);
      }
    }
    this.left += n;
    this.freeSpare();
    this.flush();
    if (this.block !== undefined) this.publish();
  }

  /** Counters, drops by reason (the socket's kernel drops read from `/proc/net/udp`), queue and neighbour state. */
  stats(): VxlanPortStats {
    this.readSocketDrops();
    const drops: Record<string, number> = {};
    this.drops.forEach((v, code) => {
      if (v > 0) drops[VXLAN_DROP_NAMES[code]] = v;
    });
    for (const [k, v] of Object.entries(this.gateway.dropsByReason())) drops[`gateway:${k}`] = v;
    return {
      backend: this.socket.backend,
      received: this.received,
      sent: this.sent,
      entered: this.entered,
      left: this.left,
      drops,
      gateway: { ...this.gateway.counters },
      queued: this.socket.queued,
      inFlight: this.txCount,
      receiveBufferBytes: this.socket.receiveBufferBytes,
      neighbours: this.gateway.neighbours.count,
    };
  }

  /**
   * Sends what the socket will still take, frees every frame the gateway or the send
   * backlog still holds (counted `gateway:held_at_close` and `send_backlog`) and closes the
   * socket. Call it before the chain's `shutdown()` so the pool's leak check is clean.
   */
  async close(): Promise<void> {
    this.gateway.close();
    this.flush();
    if (this.txCount > 0) {
      this.drops[VxlanDrop.SEND_BACKLOG] += this.txCount;
      this.pool.freeBatch(this.txIds, this.txCount);
      this.txCount = 0;
    }
    this.publish();
    await this.socket.close();
  }

  /** Puts frame `id` (owned) on the send backlog for `peer`, its VXLAN header written into the headroom. */
  private enqueue(peer: number, id: number): void {
    const pool = this.pool;
    if (pool.meta.dataOff[id] < VXLAN_HEADER_LENGTH) {
      this.drop(VxlanDrop.NO_HEADROOM, id);
      return;
    }
    if (this.txCount === this.txIds.length) {
      this.flush();
      if (this.txCount === this.txIds.length) {
        this.drop(VxlanDrop.SEND_BACKLOG, id);
        return;
      }
    }
    const at = pool.dataOffset(id) - VXLAN_HEADER_LENGTH;
    writeVxlanHeader(pool.bytes, at, this.vnis[peer]);
    const k = this.txCount++;
    const r = k * UDP_DESC_WORDS;
    const rows = this.txRows;
    rows[r + UdpTx.offset] = at;
    rows[r + UdpTx.length] = pool.meta.length[id] + VXLAN_HEADER_LENGTH;
    rows[r + UdpTx.address] = this.peerAddress[peer];
    rows[r + UdpTx.port] = this.peerPort[peer];
    this.txIds[k] = id;
  }

  /** Sends the backlog in batches until the socket would block; frees what went (or was refused). */
  private flush(): void {
    if (this.waitingWritable) return;
    const rows = this.txRows;
    const ids = this.txIds;
    let done = 0;
    let outBytes = 0;
    while (done < this.txCount) {
      const want = this.txCount - done < UDP_MAX_BATCH ? this.txCount - done : UDP_MAX_BATCH;
      const batch = done === 0 ? rows : rows.subarray(done * UDP_DESC_WORDS);
      const consumed = this.socket.send(batch, want);
      for (let i = 0; i < consumed; i++) {
        const r = i * UDP_DESC_WORDS;
        if (batch[r + UdpTx.status] === 0) {
          this.sent++;
          outBytes += batch[r + UdpTx.length];
        } else {
          this.drops[VxlanDrop.SEND_ERROR]++;
        }
      }
      done += consumed;
      if (consumed < want) break;
    }
    if (done === 0) {
      if (this.txCount > 0) this.waitForWritable();
      return;
    }
    this.pool.freeBatch(ids, done);
    this.pool.countOut(done, outBytes);
    if (done < this.txCount) {
      ids.copyWithin(0, done, this.txCount);
      rows.copyWithin(0, done * UDP_DESC_WORDS, this.txCount * UDP_DESC_WORDS);
      this.txCount -= done;
      this.waitForWritable();
    } else {
      this.txCount = 0;
    }
  }

  private waitForWritable(): void {
    if (this.polled) return; // the next fill or take tries again
    this.waitingWritable = true;
    this.socket.onWritable(this.flushWhenWritable);
  }

  /** Sends a frame the gateway built (not in the pool; rare: ARP requests) through a fresh buffer. */
  private emit(peer: number, frame: Uint8Array, length: number): void {
    const pool = this.pool;
    if (pool.allocBatch(this.one, 1) !== 1) {
      this.drops[VxlanDrop.NO_BUFFER]++;
      return;
    }
    const id = this.one[0];
    pool.copyIn(id, frame, 0, length);
    this.enqueue(peer, id);
    this.flush();
  }

  /** A held frame's next hop answered: route it again (now resolved) and send it. */
  private releaseHeld(id: number): void {
    const peer = this.gateway.toWire(this.pool.view, this.pool.dataOffset(id), this.pool.meta.length[id], id, this.now);
    if (peer === EGRESS_HELD) return;
    if (peer === EGRESS_DROP) this.freeOne(id);
    else this.enqueue(peer, id);
  }

  /**
   * Every drop counter by layer, each declared reason present (0 included): `port`, the
   * socket and VXLAN reasons (`VxlanDrop`); `gateway`, the gateway edge's (`GatewayDrop`).
   * Reads `/proc/net/udp` (the kernel's drops at this socket): for metrics, never per packet.
   */
  dropCounts(): { readonly port: Record<string, number>; readonly gateway: Record<string, number> } {
    this.readSocketDrops();
    const port: Record<string, number> = {};
    this.drops.forEach((v, code) => (port[VXLAN_DROP_NAMES[code]] = v));
    const gateway: Record<string, number> = {};
    this.gateway.drops.forEach((v, code) => (gateway[GATEWAY_DROP_NAMES[code]] = v));
    return { port, gateway };
  }

  /** Copies the drops counted outside this object (dgram queue, the kernel's socket drops) into `drops`. */
  private readSocketDrops(): void {
    this.drops[VxlanDrop.QUEUE_FULL] = this.socket.queueDrops;
    const kernel = readUdpSocketDrops(this.socket.localAddress, this.socket.localPort);
    if (kernel !== undefined) this.drops[VxlanDrop.SOCKET_RCVBUF] = kernel;
  }

  private drop(reason: number, id: number): void {
    this.drops[reason]++;
    this.freeOne(id);
  }

  private freeSpare(): void {
    if (this.spareCount > 0) this.pool.freeBatch(this.spare, this.spareCount);
    this.spareCount = 0;
  }

  private freeOne(id: number): void {
    this.one[0] = id;
    this.pool.freeBatch(this.one, 1);
  }
}
