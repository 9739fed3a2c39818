import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readVxlanVni, writeVxlanHeader } from '../../../src/dataplane/ports/vxlan-header.ts';
import type { VxlanPort } from '../../../src/dataplane/ports/vxlan-port.ts';
import { computeIcmpv6Checksum } from '../../../src/packet/checksum-ipv6.ts';
import { DropReason } from '../../../src/packet/drop-reason.ts';
import { FrameLayout } from '../../../src/packet/frame-layout.ts';
import { buildIpv6Frame, type Ipv6FrameSpec } from '../../../src/packet/ipv6-frame-builder.ts';
import { parseIpv6 } from '../../../src/packet/ipv6-address.ts';
import { parseFrame, ParseFlag } from '../../../src/packet/parse-frame.ts';
import { parseVxlanPortConfig, openVxlanPort } from '../../../src/ports/vxlan.ts';
import { PacketPool } from '../../../src/pool/packet-pool.ts';
import { UDP_BACKENDS } from '../../support/udp-backends.ts';
import { hex } from './support.ts';

const GW_MAC: [number, number] = [0x0200, 0xc6120101];
const CLIENT_MAC: [number, number] = [0x0200, 0x02];
const SERVER_MAC: [number, number] = [0x0200, 0xaa];
const groups = (s: string): number[] => parseIpv6(s)!.flatMap((w) => [w >>> 16, w & 0xffff]);

/** A dual-stack gateway: 198.18.1.0/24 + 2001:db8:1::/64 behind `client` (VNI 100), 198.18.2.0/24 + 2001:db8:2::/64 behind `server` (VNI 200). */
function dualStackConfig(clientPort: number, serverPort: number) {
  return {
    listen: { address: '127.0.0.1' },
    gateway: { addresses: ['198.18.1.1/24', '2001:db8:1::1/64', '198.18.2.1/24', '2001:db8:2::1/64'] },
    peers: [
      { name: 'client', vni: 100, remote: '127.0.0.1', port: clientPort, subnets: ['198.18.1.0/24', '2001:db8:1::/64'] },
      { name: 'server', vni: 200, remote: '127.0.0.1', port: serverPort, subnets: ['198.18.2.0/24', '2001:db8:2::/64'] },
    ],
  };
}

function frame6(spec: Ipv6FrameSpec): Uint8Array {
  const b = new Uint8Array(512);
  const len = buildIpv6Frame(new DataView(b.buffer), 0, spec);
  return b.slice(0, len);
}

function datagram(vni: number, frame: Uint8Array): Buffer {
  const d = Buffer.alloc(8 + frame.length);
  writeVxlanHeader(d, 0, vni);
  d.set(frame, 8);
  return d;
}

/** An NDP message (135/136): target then one link-layer option. */
function ndp(type: number, target: string, optionType: number, mac: readonly [number, number], spec: Ipv6FrameSpec, flags = 0): Uint8Array {
  const body = Buffer.alloc(24);
  parseIpv6(target)!.forEach((w, i) => body.writeUInt32BE(w, 4 * i));
  body.writeUInt8(optionType, 16);
  body.writeUInt8(1, 17);
  body.writeUInt16BE(mac[0], 18);
  body.writeUInt32BE(mac[1], 20);
  return frame6({ proto: 58, icmpType: type, icmpRest: flags, hopLimit: 255, payload: body, ...spec });
}

let client: Socket;
let server: Socket;
let port: VxlanPort;
let pool: PacketPool;
const ids = new Uint32Array(64);

async function readable(): Promise<void> {
  await new Promise<void>((resolve) => port.onReadable(() => resolve()));
  port.onReadable(null);
}

async function nextDatagram(sock: Socket): Promise<Buffer> {
  const [msg] = (await once(sock, 'message', { signal: AbortSignal.timeout(2000) })) as [Buffer];
  return msg;
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
  await port?.close();
  client.close();
  server.close();
});

describe('VXLAN port settings of a dual-stack gateway', () => {
  it('splits addresses and subnets by family and refuses an IPv6 subnet without an IPv6 gateway address, at its position', () => {
    const s = parseVxlanPortConfig(dualStackConfig(1, 2));
    expect(s.addresses.map((a) => a.prefix)).toEqual([24, 24]);
    expect(s.addresses6.map((a) => [...a.address])).toEqual([[...parseIpv6('2001:db8:1::1')!], [...parseIpv6('2001:db8:2::1')!]]);
    expect(s.peers.map((p) => [p.subnets.length, p.subnets6.map((x) => x.prefix)])).toEqual([[1, [64]], [1, [64]]]);
    expect(s.mac).toEqual(GW_MAC);
    const v6only = parseVxlanPortConfig({ ...dualStackConfig(1, 2), gateway: { addresses: ['2001:db8:1::1/64'] }, peers: [{ name: 'c', vni: 1, remote: '127.0.0.1', subnets: ['2001:db8:1::/64'] }] });
    expect(v6only.addresses).toEqual([]);
    expect(v6only.mac).toEqual([0x0200, 0x20000db9]);
    expect(() => parseVxlanPortConfig({ ...dualStackConfig(1, 2), gateway: { addresses: ['198.18.1.1/24'] } })).toThrow(/peers\[0\]\.subnets\[1\].*an IPv6 subnet needs an IPv6 gateway address/s);
    expect(() => parseVxlanPortConfig({ ...dualStackConfig(1, 2), gateway: { addresses: ['2001:db8:1::1/129'] } })).toThrow(/gateway\.addresses\[0\].*not an address with prefix/s);
  });
});

describe.each(UDP_BACKENDS)('VxlanPort carrying inner IPv6 frames ($backend back end)', ({ backend, skip }) => {
  beforeEach(async (ctx) => {
    if (skip !== undefined) ctx.skip(skip);
    port = await openVxlanPort(dualStackConfig(client.address().port, server.address().port), pool, { backend, listenPort: 0 });
  });

  it('answers a neighbour solicitation straight back to the asking peer', async () => {
    const ns = ndp(135, '2001:db8:1::1', 1, CLIENT_MAC, { src: groups('2001:db8:1::2'), dst: groups('ff02::1:ff00:1'), srcMac: CLIENT_MAC, dstMac: [0x3333, 0xff000001] });
    client.send(datagram(100, ns), port.localPort, '127.0.0.1');
    const reply = nextDatagram(client);
    await readable();
    expect(port.fill(pool, ids, 32)).toBe(0);
    const d = await reply;
    expect(readVxlanVni(d, 0, d.length)).toBe(100);
    const v = new DataView(d.buffer, d.byteOffset + 8, d.length - 8);
    const L = new FrameLayout();
    expect(parseFrame(v, 0, d.length - 8, L, ParseFlag.VERIFY_L4_CHECKSUM)).toBe(DropReason.OK);
    expect([v.getUint8(L.l4Offset), hex(d.subarray(8, 20))]).toEqual([136, '020000000002' + '0200c6120101']);
    expect(port.stats().gateway).toMatchObject({ neighbourAdvertisementsSent: 1 });
    expect(pool.inUse()).toBe(0);
  });

  it('carries an inner IPv6 frame into the chain (hop limit decremented) and out, resolving the next hop by solicitation', async () => {
    const inbound = frame6({ src: groups('2001:db8:1::2'), dst: groups('2001:db8:2::2'), srcMac: CLIENT_MAC, dstMac: GW_MAC, proto: 17, srcPort: 5000, dstPort: 53, hopLimit: 64, payloadLength: 40 });
    client.send(datagram(100, inbound), port.localPort, '127.0.0.1');
    await readable();
    expect(port.fill(pool, ids, 32)).toBe(1);
    const off = pool.dataOffset(ids[0]);
    expect(pool.meta.length[ids[0]]).toBe(inbound.length);
    expect(pool.view.getUint8(off + 14 + 7)).toBe(63);
    expect(hex(pool.bytes.subarray(off + 14 + 8, off + inbound.length))).toBe(hex(inbound.subarray(14 + 8)));

    // Out of the chain toward 2001:db8:2::2: unknown, so a solicitation goes to the server's VNI first.
    const solicitation = nextDatagram(server);
    port.take(pool, ids, 1);
    const ns = await solicitation;
    expect(readVxlanVni(ns, 0, ns.length)).toBe(200);
    expect(hex(ns.subarray(8, 14))).toBe('3333ff000002');
    expect(ns.readUInt8(8 + 54)).toBe(135);
    const nv = new DataView(ns.buffer, ns.byteOffset + 8, ns.length - 8);
    expect(nv.getUint16(56)).toBe(computeIcmpv6Checksum(nv, 14, 54, 32));
    const out = nextDatagram(server);
    server.send(datagram(200, ndp(136, '2001:db8:2::2', 2, SERVER_MAC, { src: groups('2001:db8:2::2'), dst: groups('2001:db8:2::1'), srcMac: SERVER_MAC, dstMac: GW_MAC }, 0x60000000)), port.localPort, '127.0.0.1');
    await readable();
    expect(port.fill(pool, ids, 32)).toBe(0);
    const d = await out;
    expect(readVxlanVni(d, 0, d.length)).toBe(200);
    expect(hex(d.subarray(8, 20))).toBe('0200000000aa' + '0200c6120101');
    expect(d.readUInt16BE(8 + 12)).toBe(0x86dd);
    expect(d.readUInt8(8 + 14 + 7)).toBe(63);
    expect(hex(d.subarray(8 + 14 + 8))).toBe(hex(inbound.subarray(14 + 8)));
    expect(port.stats().gateway).toMatchObject({ held: 1, released: 1, neighbourSolicitationsSent: 1, neighbourAdvertisementsReceived: 1, sent: 1 });
    expect(pool.inUse()).toBe(0);

    // The reply from the server travels the other way, now that both neighbours are known.
    const back = frame6({ src: groups('2001:db8:2::2'), dst: groups('2001:db8:1::2'), srcMac: SERVER_MAC, dstMac: GW_MAC, proto: 17, srcPort: 53, dstPort: 5000, hopLimit: 64, payloadLength: 12 });
    server.send(datagram(200, back), port.localPort, '127.0.0.1');
    await readable();
    expect(port.fill(pool, ids, 32)).toBe(1);
    const toClient = nextDatagram(client);
    port.take(pool, ids, 1);
    const c = await toClient;
    expect(readVxlanVni(c, 0, c.length)).toBe(100);
    expect(hex(c.subarray(8, 20))).toBe('020000000002' + '0200c6120101');
    expect(c.readUInt8(8 + 14 + 7)).toBe(63);
    expect(pool.inUse()).toBe(0);
  });
});
