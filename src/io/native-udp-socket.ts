import { InvalidArgumentError, NetlabError } from '../errors/catalog.ts';
import { loadNativeAddon, type NativeAddon, type NativeHandle } from '../native/native-addon.ts';
import type { BatchedUdpSocket, BatchedUdpSocketOptions } from './batched-udp-socket.ts';

const READABLE = 1;
const WRITABLE = 2;

/**
 * `BatchedUdpSocket` over the native addon: one `recvmmsg` or `sendmmsg` per batch, the
 * kernel copying straight between its socket buffers and pool memory. Readiness comes from
 * a `uv_poll` on the calling thread's event loop (the main thread or a worker), so
 * `onReadable` runs once per wake-up and the callback drains as many batches as it likes.
 */
export class NativeUdpSocket implements BatchedUdpSocket {
  readonly backend = 'native' as const;
  readonly localAddress: string;
  readonly localPort: number;
  readonly receiveBufferBytes: number;
  readonly queueDrops = 0;
  readonly queued = 0;
  private readonly addon: NativeAddon;
  private readonly handle: NativeHandle;
  private readonly gso: boolean;
  private readable: (() => void) | null = null;
  private writable: (() => void) | null = null;
  private events = 0;
  private closed = false;
  private readonly onEvents = (events: number): void => {
    if (events < 0) return; // a poll error: the next receive/send reports it
    if ((events & WRITABLE) !== 0 && this.writable !== null) {
      const cb = this.writable;
      this.writable = null; // one-shot: armed again by the caller when it still has a backlog
      this.arm();
      cb();
    }
    if ((events & READABLE) !== 0 && this.readable !== null) this.readable();
  };

  private constructor(addon: NativeAddon, handle: NativeHandle, gso: boolean) {
    this.addon = addon;
    this.handle = handle;
    this.gso = gso;
    const info = addon.udpInfo(handle);
    this.localAddress = info.address;
    this.localPort = info.port;
    this.receiveBufferBytes = info.receiveBufferBytes;
  }

  /** Opens the socket; `addon` null throws `InvalidArgumentError` with the reason it is absent. */
  static async open(addon: NativeAddon | null, o: BatchedUdpSocketOptions): Promise<NativeUdpSocket> {
    return NativeUdpSocket.openSync(addon, o);
  }

  /**
   * `open` without a promise: for a thread that opens its sockets while it boots and then
   * runs no event loop (an instance with VXLAN ends, `local-ports.ts`).
   */
  static openSync(addon: NativeAddon | null, o: BatchedUdpSocketOptions): NativeUdpSocket {
    if (addon === null) {
      const status = loadNativeAddon();
      throw new InvalidArgumentError(`the native UDP back end was asked for but is not available: ${status.available ? 'unknown' : status.reason}`);
    }
    let handle: NativeHandle;
    try {
      handle = addon.udpOpen(o.listen.address, o.listen.port, o.reusePort ?? false, o.receiveBufferBytes ?? 0, o.sendBufferBytes ?? 0, o.memory);
    } catch (err) {
      throw new NetlabError(`UDP socket: bind ${o.listen.address}:${o.listen.port} failed: ${(err as Error).message}`, { cause: err });
    }
    if (o.connect !== undefined) {
      try {
        addon.udpConnect(handle, o.connect.address, o.connect.port);
      } catch (err) {
        addon.udpClose(handle);
        throw new NetlabError(`UDP socket: connect ${o.connect.address}:${o.connect.port} failed: ${(err as Error).message}`, { cause: err });
      }
    }
    return new NativeUdpSocket(addon, handle, o.gso ?? true);
  }

  receive(rows: Uint32Array, count: number): number {
    return this.closed ? 0 : this.addon.udpReceive(this.handle, rows, count);
  }

  send(rows: Uint32Array, count: number): number {
    return this.closed ? 0 : this.addon.udpSend(this.handle, rows, count, this.gso);
  }

  onReadable(callback: (() => void) | null): void {
    this.readable = callback;
    this.arm();
  }

  onWritable(callback: (() => void) | null): void {
    this.writable = callback;
    this.arm();
  }

  steer(program: Uint32Array): void {
    if (this.closed) throw new InvalidArgumentError('cannot steer a closed socket');
    try {
      this.addon.udpSteer(this.handle, program);
    } catch (err) {
      throw new NetlabError(`UDP socket ${this.localAddress}:${this.localPort}: the kernel refused the steering program: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * Makes this socket's readability wake `waiter` (`NativeAddon.waiterWait`): how a thread
   * that runs no event loop sleeps on its sockets. Level-triggered: a socket with datagrams
   * waiting keeps waking it.
   */
  addToWaiter(waiter: NativeHandle): void {
    if (this.closed) throw new InvalidArgumentError('cannot wait on a closed socket');
    this.addon.waiterAdd(waiter, this.handle);
  }

  /** Test hook (see `NativeAddon.udpInjectSendFault`). */
  injectSendFault(after: number, errno: number): void {
    this.addon.udpInjectSendFault(this.handle, after, errno);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.readable = this.writable = null;
    this.addon.udpClose(this.handle);
  }

  private arm(): void {
    if (this.closed) return;
    const events = (this.readable !== null ? READABLE : 0) | (this.writable !== null ? WRITABLE : 0);
    if (events === this.events) return;
    this.events = events;
    this.addon.udpPoll(this.handle, events, events === 0 ? null : this.onEvents);
  }
}
