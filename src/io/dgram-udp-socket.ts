import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { InvalidArgumentError, NetlabError } from '../errors/catalog.ts';
import { ipv4ToString, parseIpv4 } from '../packet/ipv4.ts';
import type { BatchedUdpSocket, BatchedUdpSocketOptions } from './batched-udp-socket.ts';
import { UDP_DESC_WORDS, UDP_RX_TRUNCATED, UdpRx, UdpTx } from './udp-descriptor.ts';

/** Sends in flight at once (each from its own slot buffer, since dgram sends asynchronously). */
const SEND_SLOTS = 512;
const SLOT_BYTES = 65536;
const EMSGSIZE = 90;

/**
 * `BatchedUdpSocket` over Node's dgram, for machines where the native addon is not built.
 * Same contract, lower ceiling: one `recvmsg` and one JavaScript callback per datagram
 * (queued until `receive` copies it into its row: the one copy in), one `sendmsg` per
 * datagram from a slot buffer (the one copy out; a slot is reused once its send completed).
 */
export class DgramUdpSocket implements BatchedUdpSocket {
  readonly backend = 'dgram' as const;
  readonly localAddress: string;
  readonly localPort: number;
  readonly receiveBufferBytes: number;
  queueDrops = 0;
  queued = 0;
  private readonly socket: Socket;
  private readonly memory: Uint8Array;
  private readonly connected: boolean;
  // Receive queue: a ring of datagrams with their source.
  private readonly items: (Buffer | null)[];
  private readonly sources: Uint32Array;
  private readonly ports: Uint16Array;
  private head = 0;
  // Send slots, reused round robin once free.
  private readonly slots: Buffer[] = [];
  private readonly busy = new Uint8Array(SEND_SLOTS);
  private readonly sentCallbacks: Array<(err: Error | null) => void>;
  private slot = 0;
  private sendError = 0;
  private readable: (() => void) | null = null;
  private writable: (() => void) | null = null;
  private notifyPending = false;
  private closed = false;
  private lastAddressText = '';
  private lastAddress = 0;
  private lastSendAddress = -1;
  private lastSendAddressText = '';
  private readonly notify = (): void => {
    this.notifyPending = false;
    if (this.queued > 0 && this.readable !== null) this.readable();
  };
  private readonly onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    if (this.queued === this.items.length) {
      this.queueDrops++;
      return;
    }
    let tail = this.head + this.queued;
    if (tail >= this.items.length) tail -= this.items.length;
    this.items[tail] = msg;
    if (rinfo.address !== this.lastAddressText) {
      this.lastAddressText = rinfo.address;
      this.lastAddress = parseIpv4(rinfo.address) ?? 0;
    }
    this.sources[tail] = this.lastAddress;
    this.ports[tail] = rinfo.port;
    this.queued++;
    if (!this.notifyPending && this.readable !== null) {
      this.notifyPending = true;
      setImmediate(this.notify);
    }
  };
  private readonly onError = (err: Error & { errno?: number }): void => {
    // Asynchronous socket errors (ICMP unreachable on a connected socket) become the next receive's result.
    this.sendError = typeof err.errno === 'number' ? Math.abs(err.errno) : 5;
  };

  private constructor(socket: Socket, o: BatchedUdpSocketOptions) {
    this.socket = socket;
    this.memory = o.memory;
    this.connected = o.connect !== undefined;
    const local = socket.address();
    this.localAddress = local.address;
    this.localPort = local.port;
    this.receiveBufferBytes = socket.getRecvBufferSize();
    const capacity = o.queueCapacity ?? 4096;
    this.items = new Array<Buffer | null>(capacity).fill(null);
    this.sources = new Uint32Array(capacity);
    this.ports = new Uint16Array(capacity);
    this.sentCallbacks = Array.from({ length: SEND_SLOTS }, (_, i) => (err: Error | null) => {
      this.busy[i] = 0;
      if (err !== null) this.onError(err);
      if (this.writable !== null) {
        const cb = this.writable;
        this.writable = null;
        cb();
      }
    });
    socket.on('message', this.onMessage);
    socket.on('error', this.onError);
  }

  /** Binds (and connects) a dgram socket. Throws `NetlabError` when that fails. */
  static async open(o: BatchedUdpSocketOptions): Promise<DgramUdpSocket> {
    const socket = createSocket({
      type: 'udp4',
      ...(o.receiveBufferBytes ? { recvBufferSize: o.receiveBufferBytes } : {}),
      ...(o.sendBufferBytes ? { sendBufferSize: o.sendBufferBytes } : {}),
    } as Parameters<typeof createSocket>[0]);
    try {
      socket.bind(o.listen.port, o.listen.address);
      await onceOrError(socket, 'listening', `bind ${o.listen.address}:${o.listen.port}`);
      if (o.connect !== undefined) {
        socket.connect(o.connect.port, o.connect.address);
        await onceOrError(socket, 'connect', `connect ${o.connect.address}:${o.connect.port}`);
      }
    } catch (err) {
      socket.close();
      throw err;
    }
    return new DgramUdpSocket(socket, o);
  }

  receive(rows: Uint32Array, count: number): number {
    if (this.sendError !== 0) {
      const e = this.sendError;
      this.sendError = 0;
      return -e;
    }
    const memory = this.memory;
    const items = this.items;
    let n = 0;
    while (n < count && this.queued > 0) {
      const msg = items[this.head] as Buffer;
      const r = n * UDP_DESC_WORDS;
      const capacity = rows[r + UdpRx.capacity];
      const take = msg.length < capacity ? msg.length : capacity;
      memory.set(take === msg.length ? msg : msg.subarray(0, take), rows[r + UdpRx.offset]);
      rows[r + UdpRx.length] = msg.length;
      rows[r + UdpRx.address] = this.sources[this.head];
      rows[r + UdpRx.port] = this.ports[this.head];
      rows[r + UdpRx.flags] = msg.length > capacity ? UDP_RX_TRUNCATED : 0;
      items[this.head] = null;
      if (++this.head === items.length) this.head = 0;
      this.queued--;
      n++;
    }
    return n;
  }

  send(rows: Uint32Array, count: number): number {
    if (this.closed) return 0;
    const memory = this.memory;
    for (let i = 0; i < count; i++) {
      const r = i * UDP_DESC_WORDS;
      const s = this.slot;
      if (this.busy[s] !== 0) return i;
      const length = rows[r + UdpTx.length];
      if (length > SLOT_BYTES) {
        rows[r + UdpTx.status] = EMSGSIZE;
        continue;
      }
      if (this.slots.length <= s) this.slots.push(Buffer.allocUnsafe(SLOT_BYTES));
      const slot = this.slots[s];
      const offset = rows[r + UdpTx.offset];
      slot.set(memory.subarray(offset, offset + length), 0);
      this.busy[s] = 1;
      if (++this.slot === SEND_SLOTS) this.slot = 0;
      rows[r + UdpTx.status] = 0;
      const address = rows[r + UdpTx.address];
      if (address === 0 && this.connected) this.socket.send(slot, 0, length, this.sentCallbacks[s]);
      else this.socket.send(slot, 0, length, rows[r + UdpTx.port], this.addressText(address), this.sentCallbacks[s]);
    }
    return count;
  }

  /** Dotted text of a destination, cached for runs of sends to one peer. */
  private addressText(address: number): string {
    if (address !== this.lastSendAddress) {
      this.lastSendAddress = address;
      this.lastSendAddressText = ipv4ToString(address);
    }
    return this.lastSendAddressText;
  }

  onReadable(callback: (() => void) | null): void {
    this.readable = callback;
    if (callback !== null && this.queued > 0 && !this.notifyPending) {
      this.notifyPending = true;
      setImmediate(this.notify);
    }
  }

  onWritable(callback: (() => void) | null): void {
    this.writable = callback;
    if (callback !== null && this.busy[this.slot] === 0) {
      this.writable = null;
      setImmediate(callback);
    }
  }

  steer(): void {
    throw new InvalidArgumentError('steering a reuseport group needs the native UDP back end (Node 20 dgram sockets cannot share a port)');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.readable = this.writable = null;
    this.items.fill(null);
    this.queued = 0;
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}

async function onceOrError(s: Socket, event: string, what: string): Promise<void> {
  try {
    await once(s, event);
  } catch (err) {
    throw new NetlabError(`UDP socket: ${what} failed: ${(err as Error).message}`, { cause: err });
  }
}
