import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readVxlanVni, writeVxlanHeader } from '../../../src/dataplane/ports/vxlan-header.ts';
import type { VxlanPort, VxlanPortOptions } from '../../../src/dataplane/ports/vxlan-port.ts';
import { openVxlanPort } from '../../../src/ports/vxlan.ts';
import { ArpOp } from '../../../src/packet/arp.ts';
import { buildFrame, type FrameSpec } from '../../../src/packet/frame-builder.ts';
import { IpProto } from '../../../src/packet/ipv4.ts';
import { PacketPool } from '../../../src/pool/packet-pool.ts';
import { UDP_BACKENDS } from '../../support/udp-backends.ts';
import { hex, ip, loopbackVxlanConfig } from './support.ts';

const GW_MAC: [number, number] = [0x0200, ip('198.18.1.1')];
const CLIENT_MAC: [number, number] = [0x0200, 0x02];
const SERVER_MAC: [number, number] = [0x0200, 0xaa];

let client: Socket;
let server: Socket;
let port: VxlanPort;
let pool: PacketPool;
const ids = new Uint32Array(64);

function bytes(spec: FrameSpec): Uint8Array {
  const b = new Uint8Array(256);
  const len = buildFrame(new DataView(b.buffer), 0, spec);
  return b.slice(0, len);
}

function datagram(vni: number, frame: Uint8Array): Buffer {
  const d = Buffer.alloc(8 + frame.length);
  writeVxlanHeader(d, 0, vni);
  d.set(frame, 8);
  return d;
}

function sendTo(sock: Socket, d: Uint8Array): void {
  sock.send(d, port.localPort, '127.0.0.1');
}

async function readable(): Promise<void> {
  await new Promise<void>((resolve) => port.onReadable(() => resolve()));
  port.onReadable(null);
}

/** Fills until `received` datagrams were read (or 2 s passed); returns the frames that entered. */
async function fillUntil(received: number): Promise<number> {
  let entered = 0;
  const deadline = performance.now() + 2000;
  while (port.stats().received < received && performance.now() < deadline) {
    entered += port.fill(pool, ids, 32);
    await new Promise((r) => setTimeout(r, 2));
  }
  return entered;
}

async function nextDatagram(sock: Socket): Promise<Buffer> {
  const [msg] = (await once(sock, 'message', { signal: AbortSignal.timeout(2000) })) as [Buffer];
  return msg;
}

let backend: (typeof UDP_BACKENDS)[number]['backend'];

async function openPort(options: VxlanPortOptions = {}): Promise<VxlanPort> {
  const p = await openVxlanPort(
    loopbackVxlanConfig(client.address().port, server.address().port),
    pool,
    { backend, listenPort: 0, ...options },
  );
  return p;
}

beforeEach(async () => {
  client = createSocket('udp4');
  server = createSocket('udp4');
  client.bind(0, '127.0.0.1');
  server.bind(0, '127.0.0.1');
  await Promise.all([once(client, 'listening'), once(server, 'listening')]);
  pool = PacketPool.create({ bufferCount: 256 });
});

afterEach(async () => {
  await port.close();
  client.close();
  server.close();
});

describe.each(UDP_BACKENDS)('VxlanPort over loopback UDP ($backend back end)', ({ backend: b, skip }) => {
  beforeEach(async (ctx) => {
    if (skip !== undefined) ctx.skip(skip);
    backend = b;
    port = await openPort();
  });

  it('answers ARP for the gateway straight back to the asking peer; nothing enters the chain', async () => {
    sendTo(client, datagram(100, bytes({ kind: 'arp', arpOp: ArpOp.REQUEST, dstMac: [0xffff, 0xffffffff], srcMac: CLIENT_MAC, arpSpa: ip('198.18.1.2'), arpTpa: ip('198.18.1.1') })));
    await readable();
    const reply = nextDatagram(client);
    expect(port.fill(pool, ids, 32)).toBe(0);
    const d = await reply;
    expect(readVxlanVni(d, 0, d.length)).toBe(100);
    expect(hex(d.subarray(8))).toBe('020000000002' + '0200c6120101' + '0806' + '0001080006040002' + '0200c6120101' + 'c6120101' + '020000000002' + 'c6120102');
    expect(pool.inUse()).toBe(0);
    expect(port.stats()).toMatchObject({ received: 1, sent: 1, entered: 0, neighbours: 1 });
  });

  it('copies an IPv4 frame into the pool once, with its TTL decremented', async () => {
    const frame = bytes({ dstMac: GW_MAC, srcMac: CLIENT_MAC, proto: IpProto.TCP, srcIp: ip('198.18.1.2'), dstIp: ip('198.18.2.2'), ttl: 64, payloadLength: 100 });
    const copies = pool.stats().copiesIn;
    sendTo(client, datagram(100, frame));
    await readable();
    expect(port.fill(pool, ids, 32)).toBe(1);
    expect(pool.stats().copiesIn - copies).toBe(1);
    expect(pool.meta.length[ids[0]]).toBe(frame.length);
    expect(pool.view.getUint8(pool.dataOffset(ids[0]) + 14 + 8)).toBe(63);
    pool.freeBatch(ids, 1);
  });

  it('resolves an unknown next hop by ARP on the right VNI, then sends the held frame re-encapsulated', async () => {
    const frame = bytes({ dstMac: [0x0200, 0x77], srcMac: [0x0200, 0x78], proto: IpProto.UDP, srcIp: ip('198.18.1.2'), dstIp: ip('198.18.2.2'), payloadLength: 20 });
    pool.allocBatch(ids, 1);
    pool.copyIn(ids[0], frame, 0, frame.length);
    const arp = nextDatagram(server);
    port.take(pool, ids, 1);
    expect(pool.inUse()).toBe(1);
    const req = await arp;
    expect(readVxlanVni(req, 0, req.length)).toBe(200);
    expect(req.readUInt16BE(8 + 14 + 6)).toBe(ArpOp.REQUEST);
    expect(req.readUInt32BE(8 + 14 + 14)).toBe(ip('198.18.2.1'));
    expect(req.readUInt32BE(8 + 14 + 24)).toBe(ip('198.18.2.2'));
    const out = nextDatagram(server);
    sendTo(server, datagram(200, bytes({ kind: 'arp', arpOp: ArpOp.REPLY, dstMac: GW_MAC, srcMac: SERVER_MAC, arpSha: SERVER_MAC, arpSpa: ip('198.18.2.2'), arpTha: GW_MAC, arpTpa: ip('198.18.2.1') })));
    await readable();
    expect(port.fill(pool, ids, 32)).toBe(0);
    const d = await out;
    expect(readVxlanVni(d, 0, d.length)).toBe(200);
    expect(hex(d.subarray(8, 20))).toBe('0200000000aa' + '0200c6120101');
    expect(hex(d.subarray(20))).toBe(hex(frame.subarray(12)));
    expect(pool.inUse()).toBe(0);
    const s = port.stats();
    expect(s.gateway).toMatchObject({ held: 1, released: 1, arpRequestsSent: 1, sent: 1 });
    expect(s.left).toBe(1);
  });

  it('counts bad datagrams by reason: clear I flag, unknown VNI, runt', async () => {
    const frame = bytes({ dstMac: GW_MAC, srcMac: CLIENT_MAC, srcIp: ip('198.18.1.2'), dstIp: ip('198.18.2.2') });
    const noFlag = datagram(100, frame);
    noFlag[0] = 0;
    sendTo(client, noFlag);
    sendTo(client, datagram(999, frame));
    sendTo(client, datagram(100, frame.subarray(0, 10)));
    sendTo(client, Buffer.from([8, 0, 0]));
    expect(await fillUntil(4)).toBe(0);
    expect(port.stats().drops).toEqual({ bad_flags: 1, unknown_vni: 1, runt: 2 });
    expect(pool.inUse()).toBe(0);
  });

  it('drops and counts a datagram larger than a pool buffer as truncated, and keeps going', async () => {
    const frame = bytes({ dstMac: GW_MAC, srcMac: CLIENT_MAC, proto: IpProto.UDP, srcIp: ip('198.18.1.2'), dstIp: ip('198.18.2.2'), payloadLength: 60 });
    const huge = Buffer.alloc(pool.stride + 500, 0x55);
    writeVxlanHeader(huge, 0, 100);
    huge.set(frame, 8);
    sendTo(client, huge);
    sendTo(client, datagram(100, frame));
    expect(await fillUntil(2)).toBe(1);
    expect(port.stats().drops).toEqual({ truncated: 1 });
    expect(pool.inUse()).toBe(1);
    expect(pool.meta.length[ids[0]]).toBe(frame.length);
    pool.freeBatch(ids, 1);
  });

  it('lands the inner IP header 4-byte aligned and sends from the pool with the VXLAN header in the headroom: no JavaScript copy', async () => {
    const frame = bytes({ dstMac: GW_MAC, srcMac: CLIENT_MAC, proto: IpProto.UDP, srcIp: ip('198.18.1.2'), dstIp: ip('198.18.2.2'), payloadLength: 30 });
    sendTo(client, datagram(100, frame));
    await readable();
    expect(port.fill(pool, ids, 32)).toBe(1);
    const held = Uint32Array.of(ids[0]);
    expect((pool.dataOffset(held[0]) + 14) % 4).toBe(0);
    // Answer ARP first so the frame goes out at once.
    sendTo(server, datagram(200, bytes({ kind: 'arp', arpOp: ArpOp.REPLY, dstMac: GW_MAC, srcMac: SERVER_MAC, arpSha: SERVER_MAC, arpSpa: ip('198.18.2.2'), arpTha: GW_MAC, arpTpa: ip('198.18.2.1') })));
    await fillUntil(2);
    const out = nextDatagram(server);
    const copies = pool.stats();
    port.take(pool, held, 1);
    const d = await out;
    expect(readVxlanVni(d, 0, d.length)).toBe(200);
    expect(d.length).toBe(8 + frame.length);
    expect(pool.stats().copiesOut - copies.copiesOut).toBe(1);
    expect(pool.inUse()).toBe(0);
  });

  if (b === 'dgram') it('drops and counts datagrams beyond the queue bound, and signals readability once per turn', async () => {
    await port.close();
    port = await openPort({ queueCapacity: 4 });
    const frame = bytes({ dstMac: GW_MAC, srcMac: CLIENT_MAC, srcIp: ip('198.18.1.2'), dstIp: ip('198.18.2.2') });
    let calls = 0;
    port.onReadable(() => calls++);
    for (let i = 0; i < 10; i++) sendTo(client, datagram(100, frame));
    while (port.socket.queued + port.socket.queueDrops < 10) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setImmediate(r));
    expect(port.stats().drops).toEqual({ queue_full: 6 });
    expect(calls).toBeGreaterThanOrEqual(1);
    const seen = calls;
    await new Promise((r) => setTimeout(r, 30));
    expect(calls).toBe(seen);
    expect(port.fill(pool, ids, 32)).toBe(4);
    pool.freeBatch(ids, 4);
  });

  it('frees held frames on close, counted as held_at_close', async () => {
    const frame = bytes({ srcIp: ip('198.18.1.2'), dstIp: ip('198.18.2.9') });
    pool.allocBatch(ids, 1);
    pool.copyIn(ids[0], frame, 0, frame.length);
    port.take(pool, ids, 1);
    expect(pool.inUse()).toBe(1);
    await port.close();
    expect(pool.inUse()).toBe(0);
    expect(port.stats().drops).toMatchObject({ 'gateway:held_at_close': 1 });
  });
});

describe.each(UDP_BACKENDS)('VxlanPort admits only its peers ($backend back end)', ({ backend: b, skip }) => {
  /** Sockets on other loopback addresses: 127.0.0.2 (the server peer here), 127.0.0.3 (no peer). */
  let peer2: Socket;
  let stranger: Socket;
  const frame = (): Uint8Array => bytes({ dstMac: GW_MAC, srcMac: CLIENT_MAC, proto: IpProto.UDP, srcIp: ip('198.18.1.2'), dstIp: ip('198.18.2.2'), payloadLength: 20 });

  async function open(extra: Record<string, unknown> = {}, clientPeer: Record<string, unknown> = {}): Promise<VxlanPort> {
    return openVxlanPort(
      {
        listen: { address: '127.0.0.1' },
        gateway: { addresses: ['198.18.1.1/24', '198.18.2.1/24'] },
        peers: [
          { name: 'client', vni: 100, remote: '127.0.0.1', port: client.address().port, subnets: ['198.18.1.0/24'], ...clientPeer },
          { name: 'server', vni: 200, remote: '127.0.0.2', port: peer2.address().port, subnets: ['198.18.2.0/24'] },
        ],
        ...extra,
      },
      pool,
      { backend: b, listenPort: 0 },
    );
  }

  /** Receives until `n` datagrams were read; returns the frames that entered (freed). */
  async function enteredOf(n: number): Promise<number> {
    let entered = 0;
    const deadline = performance.now() + 2000;
    while (port.stats().received < n && performance.now() < deadline) {
      const got = port.fill(pool, ids, 32);
      if (got > 0) pool.freeBatch(ids, got);
      entered += got;
      await new Promise((r) => setTimeout(r, 2));
    }
    return entered;
  }

  beforeEach(async (ctx) => {
    if (skip !== undefined) ctx.skip(skip);
    peer2 = createSocket('udp4');
    stranger = createSocket('udp4');
    peer2.bind(0, '127.0.0.2');
    stranger.bind(0, '127.0.0.3');
    await Promise.all([once(peer2, 'listening'), once(stranger, 'listening')]);
  });

  afterEach(() => {
    peer2?.close();
    stranger?.close();
  });

  it('drops and counts a datagram from an address that is no peer; peers still get through', async () => {
    port = await open();
    sendTo(stranger, datagram(100, frame()));
    expect(await enteredOf(1)).toBe(0);
    expect(port.stats().drops).toEqual({ unknown_source: 1 });
    sendTo(client, datagram(100, frame()));
    sendTo(peer2, datagram(200, frame()));
    expect(await enteredOf(3)).toBe(2);
    expect(port.stats().drops.unknown_source).toBe(1);
    expect(pool.inUse()).toBe(0);
  });

  it("drops a peer's datagram carrying another peer's VNI as peer_mismatch", async () => {
    port = await open();
    sendTo(client, datagram(200, frame()));
    expect(await enteredOf(1)).toBe(0);
    expect(port.stats().drops).toEqual({ peer_mismatch: 1 });
  });

  it('admits senders in an allowedSources prefix (for any peer VNI)', async () => {
    port = await open({ allowedSources: ['127.0.0.2/31'] });
    sendTo(stranger, datagram(100, frame()));
    expect(await enteredOf(1)).toBe(1);
    expect(port.stats().drops).toEqual({});
  });

  it('matches the source port too where the peer names one', async () => {
    const other = createSocket('udp4');
    other.bind(0, '127.0.0.1');
    await once(other, 'listening');
    try {
      port = await open({}, { sourcePort: client.address().port });
      sendTo(other, datagram(100, frame()));
      expect(await enteredOf(1)).toBe(0);
      expect(port.stats().drops).toEqual({ unknown_source: 1 });
      sendTo(client, datagram(100, frame()));
      expect(await enteredOf(2)).toBe(1);
    } finally {
      other.close();
    }
  });
});
