import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UDP_DESC_WORDS, UdpRx, UdpTx } from '../../../src/io/udp-descriptor.ts';
import { loadNativeAddon, type NativeAddon, type NativeHandle } from '../../../src/native/native-addon.ts';
import { startModuleWorker } from '../../../src/runtime/module-worker.ts';

const status = loadNativeAddon();
const FUTEX_WORKER = new URL('./workers/futex-wait-worker.ts', import.meta.url);
const LOOPBACK = 0x7f000001;
const POOL_BYTES = 1 << 16;

describe('native addon availability', () => {
  it('is available whenever NFVKIT_NATIVE_REQUIRED=1 (CI): a missing or stale build fails here instead of skipping', () => {
    const reason = status.available ? '' : status.reason;
    expect(status.available || process.env.NFVKIT_NATIVE_REQUIRED !== '1', `NFVKIT_NATIVE_REQUIRED=1 but the addon is not available: ${reason}`).toBe(true);
  });
});

/** Runs `fn` and returns the error it threw (the test fails if it did not throw). */
function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a throw, but the call returned');
}

function expectTypeError(fn: () => unknown): void {
  const e = thrown(fn);
  expect(e, e.message).toBeInstanceOf(TypeError);
  expect(e.code).toBe('NFVKIT_ERR_NATIVE_ARGUMENT');
}

function expectRangeError(fn: () => unknown): void {
  const e = thrown(fn);
  expect(e, e.message).toBeInstanceOf(RangeError);
  expect(e.code).toBe('NFVKIT_ERR_NATIVE_ARGUMENT');
}

const bad = <T>(v: unknown): T => v as T;

describe.skipIf(!status.available)('native addon entry points', () => {
  const addon = (status.available ? status.addon : null) as NativeAddon;
  let pool: Uint8Array;
  let sockets: NativeHandle[];
  let waiters: NativeHandle[];

  const open = (): NativeHandle => {
    const s = addon.udpOpen('127.0.0.1', 0, false, 0, 0, pool);
    sockets.push(s);
    return s;
  };
  const openWaiter = (): NativeHandle => {
    const w = addon.waiterOpen();
    waiters.push(w);
    return w;
  };

  beforeEach(() => {
    pool = new Uint8Array(new SharedArrayBuffer(POOL_BYTES));
    sockets = [];
    waiters = [];
  });

  afterEach(() => {
    for (const s of sockets) addon.udpClose(s);
    for (const w of waiters) addon.waiterClose(w);
  });

  it('udpOpen refuses bad addresses, ports, flags, buffer sizes and pools', () => {
    expectTypeError(() => addon.udpOpen(bad(42), 0, false, 0, 0, pool));
    expectTypeError(() => addon.udpOpen(bad(undefined), 0, false, 0, 0, pool));
    expectRangeError(() => addon.udpOpen('localhost', 0, false, 0, 0, pool));
    expectRangeError(() => addon.udpOpen('300.1.1.1', 0, false, 0, 0, pool));
    expectRangeError(() => addon.udpOpen('127.0.0.1.1', 0, false, 0, 0, pool));
    expectRangeError(() => addon.udpOpen('1'.repeat(200), 0, false, 0, 0, pool));
    expectTypeError(() => addon.udpOpen('127.0.0.1', bad('0'), false, 0, 0, pool));
    expectRangeError(() => addon.udpOpen('127.0.0.1', -1, false, 0, 0, pool));
    expectRangeError(() => addon.udpOpen('127.0.0.1', 65536, false, 0, 0, pool));
    expectRangeError(() => addon.udpOpen('127.0.0.1', 1.5, false, 0, 0, pool));
    expectRangeError(() => addon.udpOpen('127.0.0.1', Number.NaN, false, 0, 0, pool));
    expectTypeError(() => addon.udpOpen('127.0.0.1', 0, bad(1), 0, 0, pool));
    expectRangeError(() => addon.udpOpen('127.0.0.1', 0, false, -1, 0, pool));
    expectRangeError(() => addon.udpOpen('127.0.0.1', 0, false, 2 ** 31, 0, pool));
    expectRangeError(() => addon.udpOpen('127.0.0.1', 0, false, 0, Number.POSITIVE_INFINITY, pool));
    expectTypeError(() => addon.udpOpen('127.0.0.1', 0, false, 0, bad('1'), pool));
    expectTypeError(() => addon.udpOpen('127.0.0.1', 0, false, 0, 0, bad(new Uint32Array(16))));
    expectTypeError(() => addon.udpOpen('127.0.0.1', 0, false, 0, 0, bad([1, 2, 3])));
    expectTypeError(() => addon.udpOpen('127.0.0.1', 0, false, 0, 0, bad(new SharedArrayBuffer(16))));
    expectTypeError(() => addon.udpOpen('127.0.0.1', 0, false, 0, 0, bad(undefined)));
  });

  it('a kernel refusal is an Error with the errno name, not an argument error', () => {
    const s = open();
    const { port } = addon.udpInfo(s);
    const e = thrown(() => addon.udpOpen('127.0.0.1', port, false, 0, 0, pool));
    expect(e.code).toBe('EADDRINUSE');
    expect(e).not.toBeInstanceOf(TypeError);
  });

  it('every socket entry point refuses something that is not a socket handle, a waiter handle included', () => {
    const w = openWaiter();
    const rows = new Uint32Array(UDP_DESC_WORDS);
    for (const h of [undefined, null, 42, 'socket', {}, [], () => 0, new Uint8Array(8), w]) {
      const x = bad<NativeHandle>(h);
      expectTypeError(() => addon.udpConnect(x, '127.0.0.1', 9));
      expectTypeError(() => addon.udpInfo(x));
      expectTypeError(() => addon.udpReceive(x, rows, 0));
      expectTypeError(() => addon.udpSend(x, rows, 0, false));
      expectTypeError(() => addon.udpPoll(x, 0, null));
      expectTypeError(() => addon.udpClose(x));
      expectTypeError(() => addon.udpInjectSendFault(x, 0, 11));
      expectTypeError(() => addon.waiterAdd(w, x));
    }
    // The waiter survived being offered as a socket.
    expect(addon.waiterWait(w, 0)).toBe(0);
  });

  it('every waiter entry point refuses something that is not a waiter handle, a socket handle included', () => {
    const s = open();
    for (const h of [undefined, null, 7, 'waiter', {}, [], new Int32Array(2), s]) {
      const x = bad<NativeHandle>(h);
      expectTypeError(() => addon.waiterEventFd(x));
      expectTypeError(() => addon.waiterAdd(x, s));
      expectTypeError(() => addon.waiterWait(x, 0));
      expectTypeError(() => addon.waiterClose(x));
    }
    // The socket survived being offered as a waiter (waiterClose did not close its fd).
    expect(addon.udpInfo(s).port).toBeGreaterThan(0);
    expect(addon.udpReceive(s, new Uint32Array(UDP_DESC_WORDS), 0)).toBe(0);
  });

  it('a closed socket is refused by every entry point but udpClose, which is idempotent', () => {
    const peer = open();
    for (const poll of [false, true]) {
      const s = open();
      // With a poll handle, libuv closes the fd later: the handle must be refused at once anyway.
      if (poll) addon.udpPoll(s, 1, () => {});
      addon.udpClose(s);
      addon.udpClose(s);
      const rows = new Uint32Array(UDP_DESC_WORDS);
      rows[UdpRx.capacity] = 16;
      expectTypeError(() => addon.udpInfo(s));
      expectTypeError(() => addon.udpConnect(s, '127.0.0.1', addon.udpInfo(peer).port));
      expectTypeError(() => addon.udpReceive(s, rows, 1));
      expectTypeError(() => addon.udpSend(s, rows, 1, false));
      expectTypeError(() => addon.udpPoll(s, 1, () => {}));
      expectTypeError(() => addon.udpPoll(s, 0, null));
      expectTypeError(() => addon.udpInjectSendFault(s, 0, 11));
      const w = openWaiter();
      expectTypeError(() => addon.waiterAdd(w, s));
    }
  });

  it('a closed waiter is refused by every entry point but waiterClose, which is idempotent; its eventfd can no longer be rung', () => {
    const s = open();
    const w = addon.waiterOpen();
    const fd = addon.waiterEventFd(w);
    addon.waiterClose(w);
    addon.waiterClose(w);
    expectTypeError(() => addon.waiterEventFd(w));
    expectTypeError(() => addon.waiterAdd(w, s));
    expectTypeError(() => addon.waiterWait(w, 0));
    expectRangeError(() => addon.eventFdRing(fd));
  });

  it('udpConnect, udpPoll and udpInjectSendFault refuse bad values', () => {
    const s = open();
    expectTypeError(() => addon.udpConnect(s, bad(0x7f000001), 9));
    expectRangeError(() => addon.udpConnect(s, '127.0.0.256', 9));
    expectRangeError(() => addon.udpConnect(s, '127.0.0.1', 0));
    expectRangeError(() => addon.udpConnect(s, '127.0.0.1', 65536));
    expectTypeError(() => addon.udpConnect(s, '127.0.0.1', bad('9')));
    expectRangeError(() => addon.udpPoll(s, 4, () => {}));
    expectRangeError(() => addon.udpPoll(s, -1, () => {}));
    expectTypeError(() => addon.udpPoll(s, 1, null));
    expectTypeError(() => addon.udpPoll(s, 3, bad({})));
    expectTypeError(() => addon.udpPoll(s, bad('1'), () => {}));
    expectRangeError(() => addon.udpInjectSendFault(s, -1, 11));
    expectRangeError(() => addon.udpInjectSendFault(s, 1025, 11));
    expectRangeError(() => addon.udpInjectSendFault(s, 0, 0));
    expectRangeError(() => addon.udpInjectSendFault(s, 0, 4096));
    expectTypeError(() => addon.udpInjectSendFault(s, 0, bad(null)));
    // Still usable afterwards.
    addon.udpPoll(s, 1, () => {});
    addon.udpPoll(s, 0, null);
    expect(addon.udpInfo(s).address).toBe('127.0.0.1');
  });

  it('waiterWait, eventFdRing, futexWait and futexWake refuse bad values', () => {
    const w = openWaiter();
    const words = new Int32Array(new SharedArrayBuffer(8));
    expectRangeError(() => addon.waiterWait(w, -1));
    expectRangeError(() => addon.waiterWait(w, 60_001));
    expectTypeError(() => addon.waiterWait(w, bad('5')));
    expectTypeError(() => addon.eventFdRing(bad('3')));
    expectRangeError(() => addon.eventFdRing(-1));
    expectRangeError(() => addon.eventFdRing(2 ** 31));
    expectTypeError(() => addon.futexWait(bad(new Uint32Array(2)), 0, 0, 0));
    expectTypeError(() => addon.futexWait(bad([0, 0]), 0, 0, 0));
    expectRangeError(() => addon.futexWait(words, 2, 0, 0));
    expectRangeError(() => addon.futexWait(words, -1, 0, 0));
    expectRangeError(() => addon.futexWait(new Int32Array(0), 0, 0, 0));
    expectRangeError(() => addon.futexWait(words, 0, 2 ** 31, 0));
    expectRangeError(() => addon.futexWait(words, 0, 0, -1));
    expectRangeError(() => addon.futexWait(words, 0, 0, 60_001));
    expectTypeError(() => addon.futexWake(bad(new Float64Array(1)), 0, 1));
    expectRangeError(() => addon.futexWake(words, 2, 1));
    expectRangeError(() => addon.futexWake(words, 0, 0));
    expectRangeError(() => addon.futexWake(words, 0, 1.5));
  });

  it('eventFdRing refuses an fd that is not a waiter eventfd (stdout, a socket, an epoll fd) and rings a real one', () => {
    const s = open();
    const w = openWaiter();
    const evfd = addon.waiterEventFd(w);
    const socketFd = addon.udpInfo(s).fd;
    for (const fd of [0, 1, 2, socketFd, evfd - 1, evfd + 1]) expectRangeError(() => addon.eventFdRing(fd));
    expect(addon.waiterWait(w, 0)).toBe(0);
    addon.eventFdRing(evfd);
    expect(addon.waiterWait(w, 1000)).toBe(1);
    // The ring was consumed.
    expect(addon.waiterWait(w, 0)).toBe(0);
  });

  it('waiterWait wakes for a socket added to it once a datagram is waiting', async () => {
    const s = open();
    const w = openWaiter();
    addon.waiterAdd(w, s);
    addon.waiterAdd(w, s); // twice is fine (EEXIST ignored)
    expect(addon.waiterWait(w, 0)).toBe(0);
    const sender = createSocket('udp4');
    try {
      sender.send(Buffer.from('hi'), addon.udpInfo(s).port, '127.0.0.1');
      await once(sender, 'listening');
      expect(addon.waiterWait(w, 2000)).toBe(1);
    } finally {
      sender.close();
    }
  });

  describe('descriptors', () => {
    let rx: NativeHandle;
    let tx: NativeHandle;
    let rxPort: number;

    beforeEach(() => {
      rx = open();
      tx = open();
      rxPort = addon.udpInfo(rx).port;
    });

    /** Sends one datagram from `tx` to `rx` through the addon and waits until it is readable. */
    async function oneWaiting(text: string): Promise<void> {
      const src = 60_000;
      pool.set(Buffer.from(text), src);
      const rows = new Uint32Array(UDP_DESC_WORDS);
      rows[UdpTx.offset] = src;
      rows[UdpTx.length] = text.length;
      rows[UdpTx.address] = LOOPBACK;
      rows[UdpTx.port] = rxPort;
      expect(addon.udpSend(tx, rows, 1, false)).toBe(1);
      expect(rows[UdpTx.status]).toBe(0);
      pool.fill(0, src, src + text.length);
      const w = openWaiter();
      addon.waiterAdd(w, rx);
      expect(addon.waiterWait(w, 2000)).toBe(1);
    }

    it('udpReceive and udpSend refuse bad arrays and counts', () => {
      const rows = new Uint32Array(4 * UDP_DESC_WORDS);
      for (const h of [rx, tx]) {
        expectTypeError(() => addon.udpReceive(h, bad(new Int32Array(6)), 0));
        expectTypeError(() => addon.udpReceive(h, bad([0, 16, 0, 0, 0, 0]), 1));
        expectTypeError(() => addon.udpSend(h, bad(new Uint8Array(6)), 0, false));
        expectTypeError(() => addon.udpSend(h, bad(null), 0, false));
        expectRangeError(() => addon.udpReceive(h, rows, 5));
        expectRangeError(() => addon.udpSend(h, rows, 5, false));
        expectRangeError(() => addon.udpReceive(h, new Uint32Array(5), 1));
        expectRangeError(() => addon.udpReceive(h, rows, -1));
        expectRangeError(() => addon.udpReceive(h, rows, 1025));
        expectRangeError(() => addon.udpReceive(h, new Uint32Array(2000 * UDP_DESC_WORDS), 1025));
        expectRangeError(() => addon.udpSend(h, rows, 0.5, false));
        expectTypeError(() => addon.udpSend(h, rows, bad('1'), false));
        expectTypeError(() => addon.udpSend(h, rows, 0, bad(1)));
        expectTypeError(() => addon.udpSend(h, rows, 0, bad(undefined)));
      }
      expect(addon.udpReceive(rx, rows, 0)).toBe(0);
      expect(addon.udpSend(tx, rows, 0, false)).toBe(0);
    });

    it('udpReceive refuses a row outside the pool or with capacity 0, writes nothing, and leaves the datagram waiting', async () => {
      await oneWaiting('hello');
      const cases: Array<[number, number]> = [
        [POOL_BYTES, 1],
        [POOL_BYTES - 4, 5],
        [0, POOL_BYTES + 1],
        [0xffffffff, 0xffffffff],
        [0xffffffff, 1],
        [100, 0],
        [0, 65_508],
      ];
      for (const [offset, capacity] of cases) {
        const rows = new Uint32Array(3 * UDP_DESC_WORDS);
        rows[UdpRx.offset] = 0;
        rows[UdpRx.capacity] = 64;
        // The bad row is the second of the batch: the first must not be filled either.
        rows[UDP_DESC_WORDS + UdpRx.offset] = offset;
        rows[UDP_DESC_WORDS + UdpRx.capacity] = capacity;
        rows[2 * UDP_DESC_WORDS + UdpRx.offset] = 200;
        rows[2 * UDP_DESC_WORDS + UdpRx.capacity] = 64;
        const before = rows.slice();
        expectRangeError(() => addon.udpReceive(rx, rows, 3));
        expect(rows, `rows after refusing (${offset}, ${capacity})`).toEqual(before);
        expect(pool.every((b) => b === 0), `pool written after refusing (${offset}, ${capacity})`).toBe(true);
      }
      // A row exactly at the end of the pool is fine, and the datagram is still there.
      const rows = new Uint32Array(UDP_DESC_WORDS);
      rows[UdpRx.offset] = POOL_BYTES - 5;
      rows[UdpRx.capacity] = 5;
      expect(addon.udpReceive(rx, rows, 1)).toBe(1);
      expect(Buffer.from(pool.subarray(POOL_BYTES - 5)).toString()).toBe('hello');
      expect(rows[UdpRx.length]).toBe(5);
      expect(rows[UdpRx.address]).toBe(LOOPBACK);
      expect(rows[UdpRx.port]).toBe(addon.udpInfo(tx).port);
    });

    it('udpSend refuses a row outside the pool, sends nothing and writes no status', async () => {
      pool.set(Buffer.from('payload'), 0);
      for (const [offset, length] of [[POOL_BYTES, 1], [POOL_BYTES - 3, 7], [0, 65_508], [0xffffffff, 0xffffffff]] as const) {
        const rows = new Uint32Array(2 * UDP_DESC_WORDS).fill(0xabcdef);
        rows[UdpTx.offset] = 0;
        rows[UdpTx.length] = 7;
        rows[UdpTx.address] = LOOPBACK;
        rows[UdpTx.port] = rxPort;
        rows[UDP_DESC_WORDS + UdpTx.offset] = offset;
        rows[UDP_DESC_WORDS + UdpTx.length] = length;
        rows[UDP_DESC_WORDS + UdpTx.address] = LOOPBACK;
        rows[UDP_DESC_WORDS + UdpTx.port] = rxPort;
        const before = rows.slice();
        expectRangeError(() => addon.udpSend(tx, rows, 2, false));
        expectRangeError(() => addon.udpSend(tx, rows, 2, true));
        expect(rows).toEqual(before);
      }
      await new Promise((r) => setTimeout(r, 20));
      const rows = new Uint32Array(UDP_DESC_WORDS);
      rows[UdpRx.offset] = 1000;
      rows[UdpRx.capacity] = 64;
      expect(addon.udpReceive(rx, rows, 1), 'a refused batch sent nothing').toBe(0);
    });
  });

  describe('futex', () => {
    it("futexWait answers 'not-equal' when the word differs and 'timed-out' when nobody wakes it", () => {
      const words = new Int32Array(new SharedArrayBuffer(8));
      words[1] = 5;
      expect(addon.futexWait(words, 1, 4, 1000)).toBe('not-equal');
      const t0 = performance.now();
      expect(addon.futexWait(words, 1, 5, 30)).toBe('timed-out');
      expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
      expect(addon.futexWait(words, 0, 0, 0)).toBe('timed-out');
      expect(addon.futexWake(words, 0, 1)).toBe(0);
    });

    it('futexWake on the main thread wakes a futexWait blocked in a worker thread', async () => {
      const sab = new SharedArrayBuffer(8);
      const words = new Int32Array(sab);
      const worker = startModuleWorker(FUTEX_WORKER, { workerData: { sab, timeoutMs: 20_000 } });
      try {
        const answer = new Promise<{ result?: string; elapsedMs?: number; error?: string }>((resolve, reject) => {
          worker.once('message', resolve);
          worker.once('error', reject);
        });
        const deadline = performance.now() + 15_000;
        while (Atomics.load(words, 1) === 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
        expect(Atomics.load(words, 1), 'the worker never got to futexWait').toBe(1);
        // The flag is set just before the wait: wake until a waiter was actually there.
        let woken = 0;
        while (woken === 0 && performance.now() < deadline) {
          await new Promise((r) => setTimeout(r, 5));
          woken = addon.futexWake(words, 0, 1);
        }
        expect(woken).toBe(1);
        const got = await answer;
        expect(got.error).toBeUndefined();
        expect(got.result).toBe('ok');
        expect(got.elapsedMs).toBeLessThan(15_000);
      } finally {
        await worker.terminate();
      }
    });
  });
});
