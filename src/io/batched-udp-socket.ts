import { nativeAddonOrNull } from '../native/native-addon.ts';
import { DgramUdpSocket } from './dgram-udp-socket.ts';
import { NativeUdpSocket } from './native-udp-socket.ts';

/** Which implementation carries a socket's datagrams. */
export type UdpBackend = 'native' | 'dgram';

/** Options of `openBatchedUdpSocket`. */
export interface BatchedUdpSocketOptions {
  /** Address and port to bind (port 0: an ephemeral port, see `localPort`). */
  readonly listen: { readonly address: string; readonly port: number };
  /** The pool's whole memory: descriptors name offsets into it. */
  readonly memory: Uint8Array;
  /** SO_RCVBUF asked for (the kernel caps it at `net.core.rmem_max`); 0 keeps the default. */
  readonly receiveBufferBytes?: number;
  /** SO_SNDBUF asked for; 0 keeps the default. */
  readonly sendBufferBytes?: number;
  /** SO_REUSEPORT, so several sockets share the port and the kernel spreads flows among them (native only: Node 20's dgram has no such option). */
  readonly reusePort?: boolean;
  /** Fixes the destination of send rows whose address is 0. */
  readonly connect?: { readonly address: string; readonly port: number };
  /** Send runs of equal-size datagrams to one destination as one `UDP_SEGMENT` message (native only; default true). */
  readonly gso?: boolean;
  /** `'auto'` (default): native where the addon loaded, else dgram. */
  readonly backend?: UdpBackend | 'auto';
  /** dgram back end: datagrams held between `receive` calls before new ones are dropped (default 4096). */
  readonly queueCapacity?: number;
}

/**
 * A UDP socket that moves datagrams in batches straight between the kernel and the pool:
 * `receive` fills receive rows, `send` sends send rows (layouts in `udp-descriptor.ts`).
 * No per-datagram object reaches the caller. Two implementations share this contract:
 * `NativeUdpSocket` (`recvmmsg`/`sendmmsg` through the addon, the kernel writing into the
 * pool) and `DgramUdpSocket` (Node's dgram, one copy each way, for machines without the
 * addon).
 *
 * @example
 * ```ts
 * const s = openBatchedUdpSocket({ listen: { address: '198.18.0.1', port: 4789 }, memory: pool.bytes });
 * s.onReadable(() => { const n = s.receive(rx, 64); … });
 * ```
 */
export interface BatchedUdpSocket {
  readonly backend: UdpBackend;
  readonly localAddress: string;
  readonly localPort: number;
  /** SO_RCVBUF as granted (Linux reports twice what it counts as payload). */
  readonly receiveBufferBytes: number;
  /** Datagrams this socket dropped itself before `receive` saw them (dgram back end's queue; native: 0, the kernel counts its own). */
  readonly queueDrops: number;
  /** Datagrams waiting in a user-space queue (dgram back end; native: 0). */
  readonly queued: number;
  /**
   * Receives up to `count` datagrams into the rows of `rows`: returns how many (0 when none
   * wait), or `-errno` when the socket reported an error (e.g. `ECONNREFUSED` after an ICMP
   * port unreachable on a connected socket).
   */
  receive(rows: Uint32Array, count: number): number;
  /**
   * Sends the first `count` rows; returns how many rows were consumed (sent, or refused with
   * their errno in `status`). Fewer than `count`: the socket would block; keep the rest and
   * call again after `onWritable`.
   */
  send(rows: Uint32Array, count: number): number;
  /** Calls `callback` from this thread's event loop while datagrams wait; `null` stops. */
  onReadable(callback: (() => void) | null): void;
  /** Calls `callback` once the socket can take more sends; `null` stops. */
  onWritable(callback: (() => void) | null): void;
  /**
   * Steers the socket's SO_REUSEPORT group by the frame each datagram carries: `program`
   * from `steeringProgram` (`reuseport-steering.ts`). Native only: the dgram back end has no
   * reuseport group and throws `InvalidArgumentError`.
   */
  steer(program: Uint32Array): void;
  /** Closes the socket; pending datagrams are forgotten. Idempotent. */
  close(): Promise<void>;
}

/**
 * Opens a batched UDP socket on the back end asked for: `'auto'` picks the native addon
 * where it loaded (see `loadNativeAddon`) and dgram otherwise. Throws `NetlabError` when
 * the bind or connect fails, `InvalidArgumentError` when `'native'` is asked for but absent.
 */
export async function openBatchedUdpSocket(options: BatchedUdpSocketOptions): Promise<BatchedUdpSocket> {
  const want = options.backend ?? 'auto';
  const addon = want === 'dgram' ? null : nativeAddonOrNull();
  if (addon !== null) return NativeUdpSocket.open(addon, options);
  if (want === 'native') return NativeUdpSocket.open(null, options);
  return DgramUdpSocket.open(options);
}

/** The back end `'auto'` would pick on this thread. */
export function defaultUdpBackend(): UdpBackend {
  return nativeAddonOrNull() !== null ? 'native' : 'dgram';
}
