import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { InvalidArgumentError, NetlabError } from '../../errors/catalog.ts';
import { DatagramQueue } from './datagram-queue.ts';

/** Options of `VxlanSocket.open`. */
export interface VxlanSocketOptions {
  /** Address and UDP port to receive on (port 0: an ephemeral port, see `localPort`). */
  readonly listen: { readonly address: string; readonly port: number };
  /** Where each peer index sends to. */
  readonly peers: readonly { readonly remote: string; readonly port: number }[];
  /** SO_RCVBUF asked for (the kernel caps it at `net.core.rmem_max`). */
  readonly receiveBufferBytes: number;
  /** Datagrams the receive queue holds before it drops (default 4096). */
  readonly queueCapacity?: number;
  /** Send buffers that may be in flight at once (default 512). */
  readonly sendSlots?: number;
  /** Bytes per send buffer: VXLAN header plus the largest frame (default 8 + 2048). */
  readonly slotBytes?: number;
}

/**
 * The UDP side of a VXLAN port: one socket receives every peer's datagrams into a bounded
 * `DatagramQueue` (the `message` handler only enqueues a reference), and one connected
 * socket per peer sends (connected, so Node skips its per-send address lookup and the
 * `nextTick` it costs). Sends go from a ring of preallocated buffers; a slot is reused
 * only after its send completed (one callback per slot, made once), so an asynchronous
 * send never sees its bytes overwritten.
 *
 * Node's dgram has no `recvmmsg`/`sendmmsg`: every datagram is one system call each way,
 * which is the ceiling of this port (see NETLAB.md), not the packet work.
 *
 * @example
 * ```ts
 * const s = await VxlanSocket.open({ listen: { address: '198.19.0.1', port: 0 }, peers: [{ remote: '198.19.0.2', port: 4789 }], receiveBufferBytes: 1 << 22 });
 * s.onReadable(() => drain(s.queue));
 * const slot = s.acquire();
 * if (slot !== null) { writeVxlanHeader(slot, 0, 100); slot.set(frame, 8); s.send(0, 8 + frame.length); }
 * ```
 */
export class VxlanSocket {
  readonly queue: DatagramQueue;
  /** Datagrams received (queued or not). */
  received = 0;
  /** Datagrams refused because the queue was full. */
  queueFull = 0;
  /** Datagrams handed to the kernel. */
  sent = 0;
  /** Sends or socket events that reported an error. */
  sendErrors = 0;
  /** The last such error, for diagnostics. */
  lastError: Error | null = null;
  private readonly rx: Socket;
  private readonly tx: Socket[];
  private readonly slots: Buffer[];
  private readonly busy: Uint8Array;
  private readonly sentCallbacks: Array<(err: Error | null) => void>;
  private head = 0;
  private readable: (() => void) | null = null;
  private notifyPending = false;
  private closed = false;
  private readonly local: { address: string; port: number };
  private readonly rcvbuf: number;
  private readonly notify = (): void => {
    this.notifyPending = false;
    if (this.queue.count > 0 && this.readable !== null) this.readable();
  };
  private readonly onMessage = (msg: Buffer): void => {
    this.received++;
    if (!this.queue.push(msg)) {
      this.queueFull++;
      return;
    }
    if (!this.notifyPending && this.readable !== null) {
      this.notifyPending = true;
      setImmediate(this.notify);
    }
  };
  private readonly onError = (err: Error): void => {
    this.sendErrors++;
    this.lastError = err;
  };

  private constructor(rx: Socket, tx: Socket[], o: VxlanSocketOptions) {
    this.rx = rx;
    this.tx = tx;
    this.local = rx.address();
    this.rcvbuf = rx.getRecvBufferSize();
    this.queue = new DatagramQueue(o.queueCapacity ?? 4096);
    const count = o.sendSlots ?? 512;
    if (!Number.isInteger(count) || count < 1) throw new InvalidArgumentError(`sendSlots ${count} must be a positive integer`);
    const slotBytes = o.slotBytes ?? 8 + 2048;
    this.slots = Array.from({ length: count }, () => Buffer.alloc(slotBytes));
    this.busy = new Uint8Array(count);
    this.sentCallbacks = Array.from({ length: count }, (_, i) => (err: Error | null) => {
      this.busy[i] = 0;
      if (err !== null) this.onError(err);
    });
    rx.on('message', this.onMessage);
    rx.on('error', this.onError);
    for (const s of tx) s.on('error', this.onError);
  }

  /** Binds the receive socket and connects one send socket per peer. Throws `NetlabError` if a bind fails. */
  static async open(o: VxlanSocketOptions): Promise<VxlanSocket> {
    const rx = createSocket({ type: 'udp4', recvBufferSize: o.receiveBufferBytes });
    const tx: Socket[] = [];
    try {
      rx.bind(o.listen.port, o.listen.address);
      await onceOrError(rx, 'listening', `bind ${o.listen.address}:${o.listen.port}`);
      for (const peer of o.peers) {
        const s = createSocket({ type: 'udp4', sendBufferSize: 1 << 20 });
        tx.push(s);
        s.bind(0, o.listen.address);
        await onceOrError(s, 'listening', `bind ${o.listen.address}:0`);
        s.connect(peer.port, peer.remote);
        await onceOrError(s, 'connect', `connect ${peer.remote}:${peer.port}`);
      }
    } catch (err) {
      for (const s of [rx, ...tx]) s.close();
      throw err;
    }
    return new VxlanSocket(rx, tx, o);
  }

  /** Address the receive socket is bound to. */
  get localAddress(): string {
    return this.local.address;
  }

  /** UDP port the receive socket is bound to. */
  get localPort(): number {
    return this.local.port;
  }

  /** SO_RCVBUF as the kernel granted it (Linux reports twice what it counts as payload). */
  get receiveBufferBytes(): number {
    return this.rcvbuf;
  }

  /** Send slots in flight. */
  inFlight(): number {
    let n = 0;
    for (let i = 0; i < this.busy.length; i++) n += this.busy[i];
    return n;
  }

  /**
   * Calls `callback` (at most once per event-loop turn, from `setImmediate`) when datagrams
   * arrived and the queue is not empty; `null` stops it.
   */
  onReadable(callback: (() => void) | null): void {
    this.readable = callback;
    if (callback !== null && this.queue.count > 0 && !this.notifyPending) {
      this.notifyPending = true;
      setImmediate(this.notify);
    }
  }

  /** The next send buffer, or `null` when it is still in flight (count a backlog drop). Fill it, then `send`. */
  acquire(): Buffer | null {
    return this.busy[this.head] === 0 && !this.closed ? this.slots[this.head] : null;
  }

  /** Sends the first `length` bytes of the buffer `acquire` returned to peer `peer`. */
  send(peer: number, length: number): void {
    const i = this.head;
    this.busy[i] = 1;
    if (++this.head === this.slots.length) this.head = 0;
    this.sent++;
    this.tx[peer].send(this.slots[i], 0, length, this.sentCallbacks[i]);
  }

  /** Closes every socket and forgets queued datagrams. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.readable = null;
    this.queue.clear();
    await Promise.all([this.rx, ...this.tx].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

async function onceOrError(s: Socket, event: string, what: string): Promise<void> {
  try {
    await once(s, event);
  } catch (err) {
    throw new NetlabError(`VXLAN socket: ${what} failed: ${(err as Error).message}`, { cause: err });
  }
}
