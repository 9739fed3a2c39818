import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UDP_DESC_WORDS, UDP_MAX_BATCH, UDP_MAX_DATAGRAM, UDP_RX_TRUNCATED, UdpRx, UdpTx } from '../io/udp-descriptor.ts';

/** An opaque native handle (a socket or a waiter); only the addon can read it. */
export type NativeHandle = { readonly __native: unique symbol };

/**
 * The functions the native addon (`native/`) exports. Every entry point validates its
 * arguments and throws `TypeError`/`RangeError` with code `NFVKIT_ERR_NATIVE_ARGUMENT`
 * for bad ones, or an `Error` whose `code` is the errno name when the kernel refuses.
 */
export interface NativeAddon {
  readonly abiVersion: number;
  readonly layout: Readonly<Record<string, number>>;
  /** A non-blocking UDP socket bound to `address:port` that reads into and sends from `pool`. */
  udpOpen(address: string, port: number, reusePort: boolean, receiveBufferBytes: number, sendBufferBytes: number, pool: Uint8Array): NativeHandle;
  udpConnect(socket: NativeHandle, address: string, port: number): void;
  udpInfo(socket: NativeHandle): { address: string; port: number; receiveBufferBytes: number; sendBufferBytes: number; fd: number };
  /** `recvmmsg` into the rows of `descriptors`: datagrams received, 0 when none wait, or `-errno`. */
  udpReceive(socket: NativeHandle, descriptors: Uint32Array, count: number): number;
  /** `sendmmsg` of the rows (with `UDP_SEGMENT` runs when `gso`): rows consumed; fewer than `count` means "would block". */
  udpSend(socket: NativeHandle, descriptors: Uint32Array, count: number, gso: boolean): number;
  /** Calls `callback(events)` from this thread's loop when readable (1) / writable (2); `events` 0 stops. */
  udpPoll(socket: NativeHandle, events: number, callback: ((events: number) => void) | null): void;
  udpClose(socket: NativeHandle): void;
  /**
   * Attaches a classic BPF program (two words per instruction: `code | jt << 16 | jf << 24`,
   * then `k`) to the socket's SO_REUSEPORT group: the kernel runs it over each datagram's
   * payload and delivers to the socket of the returned index (see `reuseport-steering.ts`).
   */
  udpSteer(socket: NativeHandle, program: Uint32Array): void;
  /** Test hook: the next `udpSend` stops after `after` messages as if the kernel returned `errno`. */
  udpInjectSendFault(socket: NativeHandle, after: number, errno: number): void;
  waiterOpen(): NativeHandle;
  waiterEventFd(waiter: NativeHandle): number;
  waiterAdd(waiter: NativeHandle, socket: NativeHandle): void;
  /** Blocks the calling thread until a source is ready or `timeoutMs` passed: sources ready. */
  waiterWait(waiter: NativeHandle, timeoutMs: number): number;
  waiterClose(waiter: NativeHandle): void;
  /** Wakes the waiter owning eventfd `fd` (refused for any other fd). */
  eventFdRing(fd: number): void;
  futexWait(words: Int32Array, index: number, expected: number, timeoutMs: number): 'ok' | 'not-equal' | 'timed-out';
  futexWake(words: Int32Array, index: number, count: number): number;
  /** A sealed memfd of `bytes` (close-on-exec) mapped shared here: `memory` is the whole of it. */
  shmCreate(name: string, bytes: number): { fd: number; memory: SharedArrayBuffer };
  /** Maps an inherited memfd; refused unless it is sealed against shrinking and growing and is exactly `bytes` long. */
  shmAttach(fd: number, bytes: number): SharedArrayBuffer;
  /** A SharedArrayBuffer over `[offset, offset + length)` of a whole mapping from `shmCreate`/`shmAttach`. */
  shmSlice(memory: SharedArrayBuffer, offset: number, length: number): SharedArrayBuffer;
  /** Closes a memfd `shmCreate` made (mappings stay valid). */
  shmCloseFd(fd: number): void;
  /**
   * Gives the pages of `[offset, offset + length)` of a whole mapping from
   * `shmCreate`/`shmAttach` back to the system (`MADV_REMOVE`, in every process mapping
   * them): they read as zeros, and are allocated again (zeroed by the kernel) only when
   * touched. Whole pages only. Absent from builds older than it (same ABI).
   */
  shmDiscard?(memory: SharedArrayBuffer, offset: number, length: number): void;
  /**
   * Sandboxes the calling process for good (see `src/runtime/sandbox.ts`): drops to
   * `uid`/`gid` when root and `uid` ≥ 0, then a seccomp filter (TSYNC) under which denied
   * calls fail with EPERM and are counted in `counters`, one word per `SandboxReason`.
   */
  sandboxEnter(counters: Int32Array, uid: number, gid: number): number;
  /**
   * `sandboxEnter` in two halves: checks the arguments and installs the counting handler,
   * then drops the ids and installs the filter on a thread of its own while the caller goes
   * on (the id changes stop every thread of the process). Nothing may count on the sandbox
   * until `sandboxFinish` returned. Absent from builds older than it (same ABI).
   */
  sandboxBegin?(counters: Int32Array, uid: number, gid: number): void;
  /** Waits for `sandboxBegin`'s thread, throws what it failed at, sets the parent-death signal; returns as `sandboxEnter`. */
  sandboxFinish?(): number;
  /**
   * Runs the seccomp filter `sandboxEnter` would install (a binary search over the system
   * call numbers) in a BPF interpreter over every number, with arguments on both sides of
   * each rule, and counts the verdicts that differ from the rule tables. Installs nothing.
   */
  sandboxFilterCheck(): { instructions: number; mismatches: number };
  /** Number of sandbox reasons the addon counts (`SANDBOX_REASONS.length`). */
  readonly sandboxReasons: number;
  /**
   * Lowers the calling isolate's old-generation limit to `mib` MiB, as
   * `--max-old-space-size` would at start (reaching it is V8's fatal "heap out of memory"),
   * without the flag, which would cost the process Node's code cache. Returns the heap
   * size limit afterwards, bytes. V8 never raises a limit this way.
   */
  heapLimit(mib: number): number;
  /** A full garbage collection, as `gc()` of `--expose-gc`, without the flag. */
  collectGarbage(): void;
}

/** What `loadNativeAddon` found. */
export type NativeAddonStatus =
  | { readonly available: true; readonly addon: NativeAddon; readonly path: string }
  | { readonly available: false; readonly reason: string };

/** The ABI version this TypeScript expects (`kAbiVersion` in `native/src/module.cc`). */
export const NATIVE_ABI_VERSION = 4;

/** Relative to the package root. */
const ADDON_PATH = join('native', 'build', 'Release', 'nfvkit_native.node');

const EXPECTED_LAYOUT: Readonly<Record<string, number>> = {
  descWords: UDP_DESC_WORDS,
  rxOffset: UdpRx.offset,
  rxCapacity: UdpRx.capacity,
  rxLength: UdpRx.length,
  rxAddress: UdpRx.address,
  rxPort: UdpRx.port,
  rxFlags: UdpRx.flags,
  txOffset: UdpTx.offset,
  txLength: UdpTx.length,
  txAddress: UdpTx.address,
  txPort: UdpTx.port,
  txStatus: UdpTx.status,
  rxFlagTruncated: UDP_RX_TRUNCATED,
  maxBatch: UDP_MAX_BATCH,
  maxDatagram: UDP_MAX_DATAGRAM,
};

let cached: NativeAddonStatus | undefined;

/**
 * Loads the native addon once per thread. It is absent (with the reason) when
 * `NFVKIT_NATIVE=0`, on a platform other than Linux, when the build failed or was never
 * run, or when the build's ABI or descriptor layout differs from this TypeScript.
 * `NFVKIT_NATIVE_ADDON` names another path to the `.node` file.
 *
 * @example
 * ```ts
 * const native = loadNativeAddon();
 * console.log(native.available ? `native I/O (${native.path})` : `dgram fallback: ${native.reason}`);
 * ```
 */
export function loadNativeAddon(): NativeAddonStatus {
  cached ??= load();
  return cached;
}

/** The addon, or `null` where it is not available. */
export function nativeAddonOrNull(): NativeAddon | null {
  const s = loadNativeAddon();
  return s.available ? s.addon : null;
}

function load(): NativeAddonStatus {
  if (process.env.NFVKIT_NATIVE === '0') return { available: false, reason: 'disabled by NFVKIT_NATIVE=0' };
  if (process.platform !== 'linux') return { available: false, reason: `the addon is Linux-only (this is ${process.platform})` };
  const path = process.env.NFVKIT_NATIVE_ADDON ?? findAddon();
  if (path === undefined) return { available: false, reason: `${ADDON_PATH} was not built (npm ci builds it; see native/README.md)` };
  let addon: NativeAddon;
  try {
    // process.dlopen, not require: an instance process is ES modules only, and its first
    // require would set up the CommonJS loader (~3 ms of a cold process start here).
    const module = { exports: {} as NativeAddon };
    process.dlopen(module, path);
    addon = module.exports;
  } catch (err) {
    return { available: false, reason: `${path} did not load: ${(err as Error).message}` };
  }
  if (addon.abiVersion !== NATIVE_ABI_VERSION) {
    return { available: false, reason: `${path} has ABI ${addon.abiVersion}, this code expects ${NATIVE_ABI_VERSION}: rebuild it (npm run build:native)` };
  }
  for (const [k, v] of Object.entries(EXPECTED_LAYOUT)) {
    if (addon.layout[k] !== v) return { available: false, reason: `${path} declares layout.${k} = ${addon.layout[k]}, this code expects ${v}: rebuild it` };
  }
  return { available: true, addon, path };
}

/** One line for people: which socket back end ports use here, and why. */
export function describePacketIo(): string {
  const s = loadNativeAddon();
  return s.available ? 'native addon (recvmmsg/sendmmsg into the pool, UDP_SEGMENT)' : `dgram fallback (${s.reason})`;
}

/** Walks up from this module (the checkout, or an image's directory) to the package root holding the build. */
function findAddon(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, ADDON_PATH);
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}
