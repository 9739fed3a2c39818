import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readVxlanVni, writeVxlanHeader } from '../../../src/dataplane/ports/vxlan-header.ts';
import type { VxlanPort, VxlanPortOptions } from '../../../src/dataplane/ports/vxlan-port.ts';
import { openVxlanPort } from '../../../src/ports/vxlan.ts';
import type { NativeUdpSocket } from '../../../src/io/native-udp-socket.ts';
import { ArpOp } from '../../../src/packet/arp.ts';
import { buildFrame, type FrameSpec } from '../../../src/packet/frame-builder.ts';
import { PacketPool } from '../../../src/pool/packet-pool.ts';
import { UDP_BACKENDS } from '../../support/udp-backends.ts';
import { ip, loopbackVxlanConfig } from './support.ts';

const EAGAIN = 11;
const ENOBUFS = 105;
const GW_MAC: [number, number] = [0x0200, ip('198.18.1.1')];
const CLIENT_MAC: [number, number] = [0x0200, 0x02];
const SERVER_MAC: [number, number] = [0x0200, 0xaa];

let client: Socket;
let server: Socket;
let port: VxlanPort | undefined;
let pool: PacketPool;
/** Datagrams the server peer received, in order. */
let atServer: Buffer[];
let backend: (typeof UDP_BACKENDS)[number]['backend'];

function bytes(spec: FrameSpec): Uint8Array {
  const b = new Uint8Array(2048);
  const len = buildFrame(new DataView(b.buffer), 0, spec);
  return b.slice(0, len);
}

function datagram(vni: number, frame: Uint8Array): Buffer {
  const d = Buffer.alloc(8 + frame.length);
  writeVxlanHeader(d, 0, vni);
  d.set(frame, 8);
  return d;
}

async function until(what: string, cond: () => boolean, ms = 3000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Opens the port and makes 198.18.2.2 (behind the server peer) reachable, so `take` sends at once. */
async function openPort(options: VxlanPortOptions = {}): Promise<VxlanPort> {
  const p = await openVxlanPort(
    loopbackVxlanConfig(client.address().port, server.address().port),
    pool,
    { backend, listenPort: 0, ...options },
  );
  port = p;
  const arpReply = bytes({ kind: 'arp', arpOp: ArpOp.REPLY, dstMac: GW_MAC, srcMac: SERVER_MAC, arpSha: SERVER_MAC, arpSpa: ip('198.18.2.2'), arpTha: GW_MAC, arpTpa: ip('198.18.2.1') });
  server.send(datagram(200, arpReply), p.localPort, '127.0.0.1');
  const ids = new Uint32Array(8);
  await until('the ARP reply', () => {
    p.fill(pool, ids, 8);
    return p.stats().received === 1;
  });
  expect(p.stats().gateway.arpRepliesReceived).toBe(1);
  expect(pool.inUse()).toBe(0);
  return p;
}

/** `count` frames toward 198.18.2.2, frame i carrying i in its first payload bytes; lengths differ from one to the next. */
function frames(count: number, equalLengths = false): Uint32Array {
  const ids = new Uint32Array(count);
  expect(pool.allocBatch(ids, count)).toBe(count);
  for (let i = 0; i < count; i++) {
    const payload = new Uint8Array(equalLengths ? 64 : 20 + (i % 50));
    new DataView(payload.buffer).setUint32(0, i);
    const f = bytes({ dstMac: GW_MAC, srcMac: CLIENT_MAC, proto: 253, srcIp: ip('198.18.1.2'), dstIp: ip('198.18.2.2'), payload });
    pool.copyIn(ids[i], f, 0, f.length);
  }
  return ids;
}

/** The frame numbers the server received (inner payload's first word). */
function sequence(): number[] {
  return atServer.map((d) => {
    expect(readVxlanVni(d, 0, d.length)).toBe(200);
    return d.readUInt32BE(8 + 14 + 20);
  });
}

beforeEach(async () => {
  client = createSocket('udp4');
  server = createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
  client.bind(0, '127.0.0.1');
  server.bind(0, '127.0.0.1');
  await Promise.all([once(client, 'listening'), once(server, 'listening')]);
  atServer = [];
  server.on('message', (m: Buffer) => atServer.push(m));
  pool = PacketPool.create({ bufferCount: 2048 });
  port = undefined;
});

afterEach(async () => {
  try {
    await port?.close();
  } finally {
    client.close();
    server.close();
  }
});

describe.each(UDP_BACKENDS)('VxlanPort send backlog ($backend back end)', ({ backend: b, skip }) => {
  beforeEach((ctx) => {
    if (skip !== undefined) ctx.skip(skip);
    backend = b;
  });

  if (b === 'native') {
    for (const [name, errno] of [['EAGAIN', EAGAIN], ['ENOBUFS', ENOBUFS]] as const) {
      it(`a partial send (${name} after 3) keeps the other 7 frames in the backlog and sends them, in order, once writable`, async () => {
        const p = await openPort({ gso: false });
        (p.socket as NativeUdpSocket).injectSendFault(3, errno);
        p.take(pool, frames(10), 10);
        let s = p.stats();
        expect(s.inFlight).toBe(7);
        expect(s.sent).toBe(3);
        expect(pool.inUse()).toBe(7);
        await until('10 datagrams at the server', () => atServer.length >= 10);
        await new Promise((r) => setTimeout(r, 20));
        expect(sequence()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        s = p.stats();
        expect(s).toMatchObject({ inFlight: 0, sent: 10, left: 10 });
        expect(s.drops).toEqual({});
        expect(pool.inUse()).toBe(0);
      });
    }

    it('a send that would block at once (EAGAIN after 0) keeps the whole batch, and later frames queue behind it in order', async () => {
      const p = await openPort();
      (p.socket as NativeUdpSocket).injectSendFault(0, EAGAIN);
      const first = frames(10, true);
      p.take(pool, first, 10);
      expect(p.stats().inFlight).toBe(10);
      // More frames before the socket said writable: behind the backlog, not ahead of it.
      const more = frames(5, true);
      for (let i = 0; i < 5; i++) new DataView(pool.bytes.buffer).setUint32(pool.dataOffset(more[i]) + 14 + 20, 10 + i);
      p.take(pool, more, 5);
      expect(p.stats().inFlight).toBe(15);
      await until('15 datagrams at the server', () => atServer.length >= 15);
      expect(sequence()).toEqual(Array.from({ length: 15 }, (_, i) => i));
      expect(p.stats()).toMatchObject({ inFlight: 0, sent: 15, drops: {} });
      expect(pool.inUse()).toBe(0);
    });

    it('beyond sendBacklog frames are dropped as send_backlog while the socket is blocked; nothing leaks', async () => {
      const p = await openPort({ sendBacklog: 4, gso: false });
      const sock = p.socket as NativeUdpSocket;
      for (let round = 0; round < 3; round++) {
        sock.injectSendFault(0, round % 2 === 0 ? EAGAIN : ENOBUFS);
        p.take(pool, frames(10), 10);
        expect(p.stats().inFlight).toBe(4);
        expect(pool.inUse()).toBe(4);
        await until(`round ${round}: the backlog sent`, () => p.stats().inFlight === 0 && atServer.length === 4 * (round + 1));
        expect(pool.inUse()).toBe(0);
      }
      await new Promise((r) => setTimeout(r, 20));
      expect(sequence()).toEqual([0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3]);
      expect(p.stats()).toMatchObject({ sent: 12, left: 30, drops: { send_backlog: 18 } });
    });

    it('close with a blocked backlog frees it, counted as send_backlog', async () => {
      const p = await openPort();
      (p.socket as NativeUdpSocket).injectSendFault(0, EAGAIN);
      p.take(pool, frames(6), 6);
      expect(pool.inUse()).toBe(6);
      await p.close();
      expect(pool.inUse()).toBe(0);
      expect(p.stats().drops).toMatchObject({ send_backlog: 6 });
    });
  }

  it('more frames than the socket takes at once wait in the backlog and all arrive in order', async () => {
    // dgram: 512 send slots in flight; native: one sendmmsg call takes at most 1024 rows.
    const p = await openPort({ sendBacklog: 2048 });
    const count = 1500;
    p.take(pool, frames(count), count);
    if (b === 'dgram') expect(p.stats().inFlight).toBeGreaterThan(0);
    await until(`${count} datagrams at the server`, () => atServer.length >= count, 10_000);
    expect(sequence()).toEqual(Array.from({ length: count }, (_, i) => i));
    expect(p.stats()).toMatchObject({ inFlight: 0, sent: count, drops: {} });
    expect(pool.inUse()).toBe(0);
  });

  it('a backlog beyond sendBacklog drops and counts the excess, sends the rest and leaks nothing', async () => {
    const p = await openPort({ sendBacklog: 8 });
    let total = 0;
    for (let round = 0; round < 5; round++) {
      // dgram: 600 > 512 slots, so the tail has to wait; native: a blocked socket is injected.
      if (b === 'native') (p.socket as NativeUdpSocket).injectSendFault(0, EAGAIN);
      const n = b === 'dgram' ? 600 : 20;
      p.take(pool, frames(n), n);
      total += n;
      await until('the backlog sent', () => p.stats().inFlight === 0);
    }
    const s = p.stats();
    await until('every sent datagram at the server', () => atServer.length === s.sent);
    expect(s.sent + (s.drops.send_backlog ?? 0)).toBe(total);
    expect(s.drops.send_backlog ?? 0).toBeGreaterThan(0);
    expect(pool.inUse()).toBe(0);
  });
});
