import type { GatewayEdgeOptions } from '../../gateway/gateway-config.ts';
import { EGRESS_DROP, EGRESS_HELD, GatewayEdge, GatewayVerdict, type GatewayCounters, type GatewayWire } from '../../gateway/gateway-edge.ts';
import type { PacketPool } from '../../pool/packet-pool.ts';
import type { ChainPort } from '../chain-port.ts';
import { readUdpSocketDrops } from './udp-socket-drops.ts';
import { VXLAN_DROP_COUNT, VXLAN_DROP_NAMES, VxlanDrop } from './vxlan-drop-reason.ts';
import { readVxlanVni, VXLAN_HEADER_LENGTH, VxlanHeaderError, writeVxlanHeader } from './vxlan-header.ts';
import { parseVxlanPortConfig, type VxlanPortSettings } from './vxlan-port-config.ts';
import { VxlanSocket } from './vxlan-socket.ts';

/** Tuning of a `VxlanPort` (the YAML config says what; these say how much). */
export interface VxlanPortOptions extends GatewayEdgeOptions {
  /** Received datagrams waiting for `fill` before new ones are dropped (default 4096). */
  readonly queueCapacity?: number;
  /** Sends in flight at once (default 512). */
  readonly sendSlots?: number;
  /** Largest inner frame sent, bytes (default 2048: a default pool buffer). */
  readonly maxFrameBytes?: number;
  /** How often `fill` ages the neighbour table, ms (default 250). */
  readonly sweepIntervalMs?: number;
}

/** A snapshot of a port's counters. */
export interface VxlanPortStats {
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
  /** Datagrams waiting in the receive queue. */
  readonly queued: number;
  /** Sends not yet completed. */
  readonly inFlight: number;
  /** SO_RCVBUF the kernel granted (doubled, as Linux reports it). */
  readonly receiveBufferBytes: number;
  /** Neighbour entries (resolved or not). */
  readonly neighbours: number;
}

/**
 * A chain end that carries real traffic: VXLAN over UDP (RFC 7348) to and from the kernel's
 * `vxlan` devices, with the chain's edge acting as an L3 gateway (`GatewayEdge`).
 *
 * - `fill` drains the receive queue: checks the VXLAN header (I flag, known VNI → peer),
 *   copies the inner frame into a pool buffer (the one copy in), and lets the gateway
 *   decide: into the chain (TTL decremented), straight back to the peer (ARP reply, ICMP
 *   time exceeded, echo reply), or dropped and counted.
 * - `take` hands each frame that leaves the chain to the gateway (route by longest prefix,
 *   MACs rewritten, or held while ARP resolves), then encapsulates it with its peer's VNI
 *   and sends it (the one copy out), and frees the buffers.
 * - `onReadable(cb)` tells an event-driven host when datagrams are waiting.
 *
 * Everything runs on the host's one thread. Drops are counted by reason (`stats().drops`),
 * including the kernel's own drops at this socket when its receive buffer overflows.
 *
 * @example
 * ```ts
 * const inside = await VxlanPort.open({
 *   listen: { address: '198.19.0.1', port: 0 },
 *   gateway: { addresses: ['198.18.1.1/24'] },
 *   peers: [{ name: 'client', vni: 100, remote: '198.19.0.2', subnets: ['198.18.1.0/24'] }],
 * });
 * await chain.run(inside, outside, () => done, 10_000);
 * await inside.close();
 * ```
 */
export class VxlanPort implements ChainPort {
  readonly settings: VxlanPortSettings;
  readonly gateway: GatewayEdge;
  readonly socket: VxlanSocket;
  /** Socket-layer drops by `VxlanDrop` code. */
  readonly drops = new Float64Array(VXLAN_DROP_COUNT);
  entered = 0;
  left = 0;
  private readonly vnis: Uint32Array;
  private readonly one = new Uint32Array(1);
  private readonly sweepIntervalMs: number;
  private nextSweep = 0;
  private pool: PacketPool | null = null;
  private now = 0;

  private constructor(settings: VxlanPortSettings, socket: VxlanSocket, options: VxlanPortOptions) {
    this.settings = settings;
    this.socket = socket;
    this.vnis = Uint32Array.from(settings.peers, (p) => p.vni);
    this.sweepIntervalMs = options.sweepIntervalMs ?? 250;
    const wire: GatewayWire = {
      emit: (peer, frame, length) => this.emit(peer, frame, length),
      release: (handle) => this.releaseHeld(handle),
      discard: (handle) => this.freeOne(handle),
    };
    this.gateway = new GatewayEdge({ addresses: settings.addresses, mac: settings.mac, peerSubnets: settings.peers.map((p) => p.subnets) }, wire, options);
  }

  /**
   * Validates `config` (see `vxlanPortConfigSchema`; throws `ConfigValidationError`), binds
   * the sockets (throws `NetlabError` if that fails) and returns the port.
   */
  static async open(config: unknown, options: VxlanPortOptions = {}): Promise<VxlanPort> {
    const settings = parseVxlanPortConfig(config);
    const socket = await VxlanSocket.open({
      listen: settings.listen,
      peers: settings.peers,
      receiveBufferBytes: settings.receiveBufferBytes,
      queueCapacity: options.queueCapacity,
      sendSlots: options.sendSlots,
      slotBytes: VXLAN_HEADER_LENGTH + (options.maxFrameBytes ?? 2048),
    });
    return new VxlanPort(settings, socket, options);
  }

  /** UDP port the port receives on (useful after listening on port 0). */
  get localPort(): number {
    return this.socket.localPort;
  }

  /** See `VxlanSocket.onReadable`: `callback` runs (at most once per event-loop turn) when datagrams wait. */
  onReadable(callback: (() => void) | null): void {
    this.socket.onReadable(callback);
  }

  fill(pool: PacketPool, ids: Uint32Array, max: number): number {
    this.pool = pool;
    const now = performance.now();
    this.now = now;
    if (now >= this.nextSweep) {
      this.nextSweep = now + this.sweepIntervalMs;
      this.gateway.sweep(now);
    }
    const q = this.socket.queue;
    if (q.count === 0 || max <= 0) return 0;
    const got = pool.allocBatch(ids, q.count < max ? q.count : max);
    const meta = pool.meta;
    const view = pool.view;
    const vnis = this.vnis;
    const peers = vnis.length;
    const gw = this.gateway;
    // ids[0..n) go into the chain; a frame that does not reuses its buffer for the next datagram.
    let n = 0;
    while (n < got && q.count > 0) {
      const dgram = q.peek();
      q.shift();
      const vni = readVxlanVni(dgram, 0, dgram.length);
      if (vni < 0) {
        this.drops[vni === VxlanHeaderError.RUNT ? VxlanDrop.RUNT : VxlanDrop.BAD_FLAGS]++;
        continue;
      }
      let peer = 0;
      while (peer < peers && vnis[peer] !== vni) peer++;
      if (peer === peers) {
        this.drops[VxlanDrop.UNKNOWN_VNI]++;
        continue;
      }
      const len = dgram.length - VXLAN_HEADER_LENGTH;
      if (len < 14) {
        this.drops[VxlanDrop.RUNT]++;
        continue;
      }
      const id = ids[n];
      meta.reset(id, pool.headroom);
      if (!pool.copyIn(id, dgram, VXLAN_HEADER_LENGTH, len)) {
        this.drops[VxlanDrop.FRAME_TOO_LARGE]++;
        continue;
      }
      const verdict = gw.fromWire(view, pool.dataOffset(id), len, peer, now);
      if (verdict === GatewayVerdict.FORWARD) {
        n++;
      } else if (verdict === GatewayVerdict.REPLY) {
        meta.length[id] = gw.replyLength;
        this.sendFromPool(peer, pool, id);
      }
    }
    if (got > n) pool.freeBatch(ids.subarray(n, got), got - n);
    this.entered += n;
    return n;
  }

  take(pool: PacketPool, ids: Uint32Array, n: number): void {
    this.pool = pool;
    const now = performance.now();
    this.now = now;
    const view = pool.view;
    const length = pool.meta.length;
    const gw = this.gateway;
    // Compacts the ids to free into ids[0..f) (f ≤ i, so nothing unread is overwritten).
    let f = 0;
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      const peer = gw.toWire(view, pool.dataOffset(id), length[id], id, now);
      if (peer === EGRESS_HELD) continue;
      if (peer !== EGRESS_DROP) this.sendFromPool(peer, pool, id);
      ids[f++] = id;
    }
    this.left += n;
    if (f > 0) pool.freeBatch(ids, f);
  }

  /** Counters, drops by reason (the socket's kernel drops read from `/proc/net/udp`), queue and neighbour state. */
  stats(): VxlanPortStats {
    this.drops[VxlanDrop.QUEUE_FULL] = this.socket.queueFull;
    this.drops[VxlanDrop.SEND_ERROR] = this.socket.sendErrors;
    const drops: Record<string, number> = {};
    this.drops.forEach((v, code) => {
      if (v > 0) drops[VXLAN_DROP_NAMES[code]] = v;
    });
    for (const [k, v] of Object.entries(this.gateway.dropsByReason())) drops[`gateway:${k}`] = v;
    const kernel = readUdpSocketDrops(this.socket.localAddress, this.socket.localPort);
    if (kernel !== undefined && kernel > 0) drops.socket_rcvbuf = kernel;
    return {
      received: this.socket.received,
      sent: this.socket.sent,
      entered: this.entered,
      left: this.left,
      drops,
      gateway: { ...this.gateway.counters },
      queued: this.socket.queue.count,
      inFlight: this.socket.inFlight(),
      receiveBufferBytes: this.socket.receiveBufferBytes,
      neighbours: this.gateway.neighbours.count,
    };
  }

  /**
   * Frees every frame the gateway still holds (counted `gateway:held_at_close`) and closes
   * the sockets. Call it before the chain's `shutdown()` so the pool's leak check is clean.
   */
  async close(): Promise<void> {
    this.gateway.close();
    await this.socket.close();
  }

  /** Encapsulates pool frame `id` for `peer` and sends it (the one copy out). Does not free it. */
  private sendFromPool(peer: number, pool: PacketPool, id: number): void {
    const slot = this.socket.acquire();
    if (slot === null) {
      this.drops[VxlanDrop.SEND_BACKLOG]++;
      return;
    }
    writeVxlanHeader(slot, 0, this.vnis[peer]);
    const len = pool.copyOut(id, slot, VXLAN_HEADER_LENGTH);
    if (len < 0) {
      this.drops[VxlanDrop.FRAME_TOO_LARGE]++;
      return;
    }
    this.socket.send(peer, VXLAN_HEADER_LENGTH + len);
  }

  /** Sends a frame the gateway built (not in the pool). Rare: ARP requests. */
  private emit(peer: number, frame: Uint8Array, length: number): void {
    const slot = this.socket.acquire();
    if (slot === null) {
      this.drops[VxlanDrop.SEND_BACKLOG]++;
      return;
    }
    writeVxlanHeader(slot, 0, this.vnis[peer]);
    for (let i = 0; i < length; i++) slot[VXLAN_HEADER_LENGTH + i] = frame[i];
    this.socket.send(peer, VXLAN_HEADER_LENGTH + length);
  }

  /** A held frame's next hop answered: route it again (now resolved), send, free. */
  private releaseHeld(id: number): void {
    const pool = this.pool;
    if (pool === null) return;
    const peer = this.gateway.toWire(pool.view, pool.dataOffset(id), pool.meta.length[id], id, this.now);
    if (peer === EGRESS_HELD) return;
    if (peer !== EGRESS_DROP) this.sendFromPool(peer, pool, id);
    this.freeOne(id);
  }

  private freeOne(id: number): void {
    if (this.pool === null) return;
    this.one[0] = id;
    this.pool.freeBatch(this.one, 1);
  }
}
