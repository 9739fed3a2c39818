import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openBatchedUdpSocket, type BatchedUdpSocket, type BatchedUdpSocketOptions } from '../../../src/io/batched-udp-socket.ts';
import { UDP_DESC_WORDS, UDP_RX_TRUNCATED, UdpRx, UdpTx } from '../../../src/io/udp-descriptor.ts';
import { UDP_BACKENDS } from '../../support/udp-backends.ts';

const LOOPBACK = 0x7f000001;
/** 198.18.255.1: benchmarking space, unreachable from a socket bound to loopback. */
const UNROUTABLE = ((198 << 24) | (18 << 16) | (255 << 8) | 1) >>> 0;
const ECONNREFUSED = 111;
const MEMORY = 1 << 20;
const TX_BASE = 0;
const RX_BASE = MEMORY / 2;
const RX_SLOT = 4096;

let memory: Uint8Array;
let sockets: BatchedUdpSocket[];
let plain: Socket[];
let backend: (typeof UDP_BACKENDS)[number]['backend'];

async function open(options: Partial<BatchedUdpSocketOptions> = {}): Promise<BatchedUdpSocket> {
  const s = await openBatchedUdpSocket({ listen: { address: '127.0.0.1', port: 0 }, memory, backend, ...options });
  sockets.push(s);
  expect(s.backend).toBe(backend);
  return s;
}

/** A free loopback port: bound, then closed again. */
async function closedPort(): Promise<number> {
  const s = createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Receive rows: row i lands at RX_BASE + i * RX_SLOT with `capacity`. */
function rxRows(count: number, capacity = RX_SLOT): Uint32Array {
  const rows = new Uint32Array(count * UDP_DESC_WORDS);
  for (let i = 0; i < count; i++) {
    rows[i * UDP_DESC_WORDS + UdpRx.offset] = RX_BASE + i * RX_SLOT;
    rows[i * UDP_DESC_WORDS + UdpRx.capacity] = capacity;
  }
  return rows;
}

interface Got {
  length: number;
  address: number;
  port: number;
  flags: number;
  bytes: Uint8Array;
}

/** Receives until `want` datagrams arrived (or 2 s passed), one row at a time into fresh slots. */
async function receiveAll(s: BatchedUdpSocket, want: number, capacity = RX_SLOT): Promise<Got[]> {
  const out: Got[] = [];
  const deadline = performance.now() + 2000;
  while (out.length < want && performance.now() < deadline) {
    const rows = rxRows(want - out.length, capacity);
    const n = s.receive(rows, want - out.length);
    expect(n, 'receive reported an error').toBeGreaterThanOrEqual(0);
    for (let i = 0; i < n; i++) {
      const r = i * UDP_DESC_WORDS;
      const length = rows[r + UdpRx.length];
      const at = rows[r + UdpRx.offset];
      out.push({
        length,
        address: rows[r + UdpRx.address],
        port: rows[r + UdpRx.port],
        flags: rows[r + UdpRx.flags],
        bytes: memory.slice(at, at + Math.min(length, capacity)),
      });
    }
    if (out.length < want) await new Promise((r) => setTimeout(r, 2));
  }
  return out;
}

/** Polls `receive` until it returns something other than 0 (or 2 s passed). */
async function receiveResult(s: BatchedUdpSocket): Promise<number> {
  const deadline = performance.now() + 2000;
  for (;;) {
    const n = s.receive(rxRows(4), 4);
    if (n !== 0 || performance.now() > deadline) return n;
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Writes `payload` into the send area and fills send row `i`. */
function txRow(rows: Uint32Array, i: number, at: number, payload: Uint8Array, address: number, port: number): void {
  memory.set(payload, at);
  const r = i * UDP_DESC_WORDS;
  rows[r + UdpTx.offset] = at;
  rows[r + UdpTx.length] = payload.length;
  rows[r + UdpTx.address] = address;
  rows[r + UdpTx.port] = port;
  rows[r + UdpTx.status] = 0xdead;
}

function pattern(length: number, seed: number): Uint8Array {
  const b = new Uint8Array(length);
  for (let i = 0; i < length; i++) b[i] = (seed * 31 + i * 7) & 0xff;
  return b;
}

/** Sends all `count` rows, waiting for writability when the socket would block. */
async function sendAll(s: BatchedUdpSocket, rows: Uint32Array, count: number): Promise<void> {
  let done = 0;
  const deadline = performance.now() + 2000;
  while (done < count) {
    done += s.send(rows.subarray(done * UDP_DESC_WORDS), count - done);
    if (done < count) {
      expect(performance.now() < deadline, 'send never completed').toBe(true);
      await new Promise<void>((r) => s.onWritable(r));
    }
  }
}

beforeEach(() => {
  memory = new Uint8Array(new SharedArrayBuffer(MEMORY));
  sockets = [];
  plain = [];
});

afterEach(async () => {
  for (const s of sockets) await s.close();
  for (const p of plain) p.close();
});

describe.each(UDP_BACKENDS)('BatchedUdpSocket ($backend back end)', ({ backend: b, skip }) => {
  beforeEach((ctx) => {
    if (skip !== undefined) ctx.skip(skip);
    backend = b;
  });

  it('round-trips a batch of 64 datagrams, each with its length, contents and source address and port', async () => {
    const a = await open();
    const c = await open();
    const rows = new Uint32Array(64 * UDP_DESC_WORDS);
    const payloads: Uint8Array[] = [];
    let at = TX_BASE;
    for (let i = 0; i < 64; i++) {
      // Sizes differ from one row to the next (no GSO run), 1..1400 bytes.
      const p = pattern(1 + ((i * 211) % 1400), i);
      payloads.push(p);
      txRow(rows, i, at, p, LOOPBACK, c.localPort);
      at += p.length;
    }
    await sendAll(a, rows, 64);
    for (let i = 0; i < 64; i++) expect(rows[i * UDP_DESC_WORDS + UdpTx.status]).toBe(0);
    const got = await receiveAll(c, 64);
    expect(got.length).toBe(64);
    for (let i = 0; i < 64; i++) {
      expect(got[i].length).toBe(payloads[i].length);
      expect(got[i].flags).toBe(0);
      expect(got[i].address).toBe(LOOPBACK);
      expect(got[i].port).toBe(a.localPort);
      expect(Buffer.from(got[i].bytes).equals(Buffer.from(payloads[i])), `datagram ${i} contents`).toBe(true);
    }
    expect(c.receive(rxRows(4), 4)).toBe(0);
  });

  it('flags a datagram longer than its row as truncated, reports its full length and writes no byte past the capacity', async () => {
    const a = await open();
    const c = await open();
    const rows = new Uint32Array(2 * UDP_DESC_WORDS);
    txRow(rows, 0, TX_BASE, pattern(1000, 1), LOOPBACK, c.localPort);
    txRow(rows, 1, TX_BASE + 1000, pattern(40, 2), LOOPBACK, c.localPort);
    await sendAll(a, rows, 2);
    memory.fill(0xee, RX_BASE, RX_BASE + 2 * RX_SLOT);
    const got = await receiveAll(c, 2, 100);
    expect(got.map((g) => [g.length, g.flags])).toEqual([[1000, UDP_RX_TRUNCATED], [40, 0]]);
    expect(Buffer.from(got[0].bytes).equals(Buffer.from(pattern(1000, 1).subarray(0, 100)))).toBe(true);
    expect(memory[RX_BASE + 100], 'the byte after the capacity').toBe(0xee);
    expect(Buffer.from(got[1].bytes).equals(Buffer.from(pattern(40, 2)))).toBe(true);
  });

  it('sends rows with address 0 to the connected peer', async () => {
    const c = await open();
    const a = await open({ connect: { address: '127.0.0.1', port: c.localPort } });
    const rows = new Uint32Array(3 * UDP_DESC_WORDS);
    for (let i = 0; i < 3; i++) txRow(rows, i, TX_BASE + i * 100, pattern(10 + i, i), 0, 0);
    await sendAll(a, rows, 3);
    const got = await receiveAll(c, 3);
    expect(got.map((g) => [g.length, g.address, g.port])).toEqual([10, 11, 12].map((l) => [l, LOOPBACK, a.localPort]));
  });

  it('reports ECONNREFUSED from a connected socket as -111 from receive once, then works again', async () => {
    const port = await closedPort();
    const a = await open({ connect: { address: '127.0.0.1', port } });
    const rows = new Uint32Array(UDP_DESC_WORDS);
    txRow(rows, 0, TX_BASE, pattern(20, 3), 0, 0);
    expect(a.send(rows, 1)).toBe(1);
    expect(await receiveResult(a)).toBe(-ECONNREFUSED);
    // Reported once.
    expect(a.receive(rxRows(4), 4)).toBe(0);
    // Someone listens on that port now: the same socket sends and receives again.
    const peer = createSocket('udp4');
    plain.push(peer);
    peer.bind(port, '127.0.0.1');
    await once(peer, 'listening');
    const arrived = once(peer, 'message', { signal: AbortSignal.timeout(2000) });
    txRow(rows, 0, TX_BASE, pattern(21, 4), 0, 0);
    await sendAll(a, rows, 1);
    expect(rows[UdpTx.status]).toBe(0);
    const [msg] = (await arrived) as [Buffer];
    expect(msg.equals(Buffer.from(pattern(21, 4)))).toBe(true);
    peer.send(Buffer.from('back'), a.localPort, '127.0.0.1');
    const got = await receiveAll(a, 1);
    expect(got.map((g) => [Buffer.from(g.bytes).toString(), g.port])).toEqual([['back', port]]);
  });

  it('consumes a row to an unroutable address without throwing, and still sends the rows around it', async () => {
    const a = await open();
    const c = await open();
    const rows = new Uint32Array(3 * UDP_DESC_WORDS);
    txRow(rows, 0, TX_BASE, pattern(30, 5), LOOPBACK, c.localPort);
    txRow(rows, 1, TX_BASE + 100, pattern(31, 6), UNROUTABLE, 9);
    txRow(rows, 2, TX_BASE + 200, pattern(32, 7), LOOPBACK, c.localPort);
    expect(a.send(rows, 3)).toBe(3);
    const status = [0, 1, 2].map((i) => rows[i * UDP_DESC_WORDS + UdpTx.status]);
    const got = await receiveAll(c, 2);
    expect(got.map((g) => g.length)).toEqual([30, 32]);
    if (backend === 'native') {
      // sendmmsg reports it per row: EINVAL (loopback source off the loopback device) or ENETUNREACH.
      expect(status[0]).toBe(0);
      expect([22, 101]).toContain(status[1]);
      expect(status[2]).toBe(0);
      expect(a.receive(rxRows(1), 1), 'the refusal is not reported again by receive').toBe(0);
    } else {
      // dgram sends asynchronously: the rows read "sent" and the error is the next receive's result
      // (dgram-udp-socket.ts: asynchronous socket errors become the next receive's result).
      expect(status).toEqual([0, 0, 0]);
      const r = await receiveResult(a);
      expect([-22, -101]).toContain(r);
      expect(a.receive(rxRows(1), 1)).toBe(0);
    }
  });

  it('an unroutable run of equal datagrams among good ones (GSO candidates) sends exactly the good ones', async () => {
    const a = await open({ gso: true });
    const c = await open();
    const rows = new Uint32Array(6 * UDP_DESC_WORDS);
    txRow(rows, 0, TX_BASE, pattern(50, 10), LOOPBACK, c.localPort);
    for (let i = 1; i <= 3; i++) txRow(rows, i, TX_BASE + i * 200, pattern(100, 10 + i), UNROUTABLE, 9);
    txRow(rows, 4, TX_BASE + 800, pattern(60, 14), LOOPBACK, c.localPort);
    txRow(rows, 5, TX_BASE + 1000, pattern(60, 15), LOOPBACK, c.localPort);
    expect(a.send(rows, 6)).toBe(6);
    const got = await receiveAll(c, 3);
    await new Promise((r) => setTimeout(r, 20));
    expect(c.receive(rxRows(4), 4), 'nothing else arrives').toBe(0);
    expect(got.map((g) => g.length)).toEqual([50, 60, 60]);
    expect(Buffer.from(got[0].bytes).equals(Buffer.from(pattern(50, 10)))).toBe(true);
    expect(Buffer.from(got[1].bytes).equals(Buffer.from(pattern(60, 14)))).toBe(true);
    expect(Buffer.from(got[2].bytes).equals(Buffer.from(pattern(60, 15)))).toBe(true);
    const status = [0, 1, 2, 3, 4, 5].map((i) => rows[i * UDP_DESC_WORDS + UdpTx.status]);
    if (backend === 'native') {
      expect(status[0]).toBe(0);
      for (const i of [1, 2, 3]) expect(status[i], `row ${i}`).not.toBe(0);
      expect(status.slice(4)).toEqual([0, 0]);
    }
  });

  if (b === 'native') it('sends 64 equal 100-byte datagrams and a shorter one (a GSO run) that arrive as 65 datagrams', async () => {
    const a = await open({ gso: true });
    const c = await open({ receiveBufferBytes: 1 << 20 });
    const rows = new Uint32Array(65 * UDP_DESC_WORDS);
    const payloads: Uint8Array[] = [];
    for (let i = 0; i < 65; i++) {
      const p = pattern(i < 64 ? 100 : 37, 100 + i);
      payloads.push(p);
      txRow(rows, i, TX_BASE + i * 100, p, LOOPBACK, c.localPort);
    }
    await sendAll(a, rows, 65);
    for (let i = 0; i < 65; i++) expect(rows[i * UDP_DESC_WORDS + UdpTx.status]).toBe(0);
    const got = await receiveAll(c, 65);
    expect(got.length).toBe(65);
    for (let i = 0; i < 65; i++) {
      expect(got[i].length, `datagram ${i}`).toBe(payloads[i].length);
      expect(got[i].port).toBe(a.localPort);
      expect(Buffer.from(got[i].bytes).equals(Buffer.from(payloads[i])), `datagram ${i} contents`).toBe(true);
    }
    await new Promise((r) => setTimeout(r, 20));
    expect(c.receive(rxRows(4), 4)).toBe(0);
  });
});
