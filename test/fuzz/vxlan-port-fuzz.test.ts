import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeVxlanHeader } from '../../src/dataplane/ports/vxlan-header.ts';
import type { VxlanPort } from '../../src/dataplane/ports/vxlan-port.ts';
import { openVxlanPort } from '../../src/ports/vxlan.ts';
import { ArpOp } from '../../src/packet/arp.ts';
import { buildFrame, type FrameSpec } from '../../src/packet/frame-builder.ts';
import { IpProto, parseIpv4 } from '../../src/packet/ipv4.ts';
import { buildIpv6Frame } from '../../src/packet/ipv6-frame-builder.ts';
import { parseIpv6 } from '../../src/packet/ipv6-address.ts';
import { PacketPool } from '../../src/pool/packet-pool.ts';
import { loopbackVxlanConfig } from '../unit/gateway/support.ts';
import { Rng } from '../support/rng.ts';
import { UDP_BACKENDS } from '../support/udp-backends.ts';

const DATAGRAMS = 5000;
const BURST = 100;
const ip = (s: string): number => parseIpv4(s) as number;
const GW_MAC: [number, number] = [0x0200, ip('198.18.1.1')];
const BROADCAST: [number, number] = [0xffff, 0xffffffff];
const KNOWN_VNIS = [100, 200];
/** Drop reasons `fill` counts for a received datagram (the others belong to the send side). */
const RECEIVE_DROPS = ['runt', 'bad_flags', 'unknown_vni', 'truncated'];
/** Gateway reasons `fromWire` counts (the others are egress or close). */
const GATEWAY_INGRESS_DROPS = [
  'not_for_gateway', 'malformed', 'arp_not_for_us', 'for_gateway', 'ttl_exceeded',
  'ndp_invalid', 'ndp_not_for_us', 'ndp_unsupported', 'hop_limit_exceeded', 'multicast_not_routed', 'link_local_not_routed',
];
/** The gateway's IPv6 side: 2001:db8:1::1/64 (peer client) and 2001:db8:2::1/64 (peer server). */
const IPV6_ADDRESSES = ['2001:db8:1::1', '2001:db8:2::1', '2001:db8:1::2', '2001:db8:2::2', '2001:db8:1::77', '2001:db8:9::1', 'fe80::2', 'ff02::1', 'ff02::1:ff00:1', '::'];

let client: Socket;
let server: Socket;
let sender: Socket;
let port: VxlanPort | undefined;
let pool: PacketPool;

function randomBytes(rng: Rng, length: number): Uint8Array {
  const b = new Uint8Array(length);
  for (let i = 0; i < length; i++) b[i] = rng.int(256);
  return b;
}

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[rng.int(xs.length)];
}

function randomAddress(rng: Rng): number {
  return pick(rng, [ip('198.18.1.1'), ip('198.18.2.1'), ip('198.18.1.2'), ip('198.18.2.2'), ip('198.18.1.77'), ip('10.0.0.1'), rng.next()]);
}

const groups = (s: string): number[] => parseIpv6(s)!.flatMap((w) => [w >>> 16, w & 0xffff]);

/** A frame the parser accepts (mostly): IPv6 of a random protocol and hop limit, neighbour discovery among them. */
function validFrame6(rng: Rng): Uint8Array {
  const b = new Uint8Array(4096);
  const view = new DataView(b.buffer);
  const dst = pick(rng, IPV6_ADDRESSES);
  const common = {
    dstMac: (dst.startsWith('ff') ? [0x3333, rng.int(2) === 0 ? 1 : 0xff000001] : rng.int(5) === 0 ? [0x0200, rng.int(4)] : GW_MAC) as [number, number],
    srcMac: [0x0200, rng.int(16)] as [number, number],
    src: groups(pick(rng, IPV6_ADDRESSES.filter((a) => !a.startsWith('ff')))),
    dst: groups(dst),
  };
  const kind = rng.int(3);
  if (kind === 0) {
    // Neighbour solicitation or advertisement: target, then a link-layer address option.
    const type = pick(rng, [135, 136]);
    const body = new Uint8Array(24);
    const bv = new DataView(body.buffer);
    parseIpv6(pick(rng, IPV6_ADDRESSES))!.forEach((w, i) => bv.setUint32(4 * i, w));
    bv.setUint16(16, ((type === 135 ? 1 : 2) << 8) | 1);
    bv.setUint32(20, rng.int(16));
    return b.slice(0, buildIpv6Frame(view, 0, { ...common, proto: 58, icmpType: type, icmpRest: type === 136 ? 0x60000000 : 0, hopLimit: pick(rng, [255, 255, 64]), payload: body }));
  }
  const proto = pick(rng, [IpProto.UDP, IpProto.TCP, 58, 47]);
  return b.slice(0, buildIpv6Frame(view, 0, {
    ...common,
    proto,
    hopLimit: pick(rng, [0, 1, 2, 64]),
    ...(proto === 58 ? { icmpType: pick(rng, [128, 129, 1, 3, 133, 134, 137]) } : {}),
    payloadLength: rng.int(1400),
  }));
}

/** A frame the parser accepts (mostly): IPv4 of a random protocol and TTL, ARP, or IPv6. */
function validFrame(rng: Rng): Uint8Array {
  if (rng.int(3) === 0) return validFrame6(rng);
  const b = new Uint8Array(4096);
  const view = new DataView(b.buffer);
  let spec: FrameSpec;
  if (rng.int(3) === 0) {
    spec = {
      kind: 'arp',
      arpOp: rng.int(2) === 0 ? ArpOp.REQUEST : ArpOp.REPLY,
      dstMac: rng.int(2) === 0 ? BROADCAST : GW_MAC,
      srcMac: [0x0200, rng.int(16)],
      arpSha: [0x0200, rng.int(16)],
      arpSpa: randomAddress(rng),
      arpTpa: randomAddress(rng),
    };
  } else {
    const proto = pick(rng, [IpProto.UDP, IpProto.TCP, IpProto.ICMP, 47]);
    spec = {
      dstMac: rng.int(5) === 0 ? [0x0200, rng.int(4)] : GW_MAC,
      srcMac: [0x0200, rng.int(16)],
      proto,
      srcIp: randomAddress(rng),
      dstIp: randomAddress(rng),
      ttl: pick(rng, [0, 1, 2, 64]),
      ...(proto === IpProto.ICMP ? { icmpType: pick(rng, [0, 8, 3, 11]) } : {}),
      payloadLength: rng.int(1600),
    };
  }
  return b.slice(0, buildFrame(view, 0, spec));
}

/** One fuzz datagram: random bytes, a VXLAN header over random bytes, or over a valid frame (sometimes damaged). */
function fuzzDatagram(rng: Rng): Uint8Array {
  const kind = rng.int(10);
  if (kind < 3) return randomBytes(rng, rng.int(3001));
  let inner: Uint8Array;
  if (kind < 6) inner = randomBytes(rng, rng.int(2993));
  else {
    inner = validFrame(rng);
    if (rng.int(4) === 0 && inner.length > 0) inner[rng.int(inner.length)] ^= 1 << rng.int(8);
    if (rng.int(8) === 0) inner = inner.subarray(0, rng.int(inner.length + 1));
  }
  const d = new Uint8Array(8 + inner.length);
  const vni = kind === 5 ? rng.int(1 << 24) : pick(rng, KNOWN_VNIS);
  writeVxlanHeader(d, 0, vni);
  if (kind === 5 && rng.int(2) === 0) d[0] = rng.int(256);
  d.set(inner, 8);
  return d;
}

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

beforeEach(async () => {
  client = createSocket('udp4');
  server = createSocket('udp4');
  sender = createSocket({ type: 'udp4', sendBufferSize: 1 << 22 });
  for (const s of [client, server, sender]) s.bind(0, '127.0.0.1');
  await Promise.all([once(client, 'listening'), once(server, 'listening'), once(sender, 'listening')]);
  pool = PacketPool.create({ bufferCount: 1024 });
  port = undefined;
});

afterEach(async () => {
  try {
    await port?.close();
  } finally {
    for (const s of [client, server, sender]) s.close();
  }
});

describe.each(UDP_BACKENDS)('VxlanPort fuzz ($backend back end)', ({ backend, skip }) => {
  beforeEach((ctx) => {
    if (skip !== undefined) ctx.skip(skip);
  });

  it(`accounts for every one of ${DATAGRAMS} random datagrams and leaks no buffer`, async () => {
    const config = loopbackVxlanConfig(client.address().port, server.address().port, 4 << 20);
    const p = await openVxlanPort(
      {
        ...config,
        gateway: { addresses: [...config.gateway.addresses, '2001:db8:1::1/64', '2001:db8:2::1/64'] },
        peers: config.peers.map((peer, i) => ({ ...peer, subnets: [...peer.subnets, `2001:db8:${i + 1}::/64`] })),
      },
      pool,
      { backend, listenPort: 0 },
    );
    port = p;
    const rng = new Rng(0x5eed_0001);
    const ids = new Uint32Array(256);
    let sent = 0;
    let entered = 0;
    let batches = 0;
    while (sent < DATAGRAMS) {
      const burst = Math.min(BURST, DATAGRAMS - sent);
      for (let i = 0; i < burst; i++) sender.send(fuzzDatagram(rng), p.localPort, '127.0.0.1');
      sent += burst;
      await until(`${sent} datagrams received (have ${p.stats().received})`, () => {
        // Small and odd batch sizes too, so a burst spans several fills.
        const n = p.fill(pool, ids, 1 + rng.int(ids.length));
        batches++;
        entered += n;
        if (n > 0) pool.freeBatch(ids, n);
        return p.received === sent;
      });
    }
    await until('the reply backlog sent', () => p.stats().inFlight === 0);
    const s = p.stats();
    expect(s.received).toBe(DATAGRAMS);
    expect(s.entered).toBe(entered);
    expect(s.gateway.forwarded).toBe(entered);
    const drops = (names: readonly string[], prefix = ''): number => names.reduce((sum, n) => sum + (s.drops[prefix + n] ?? 0), 0);
    const known = new Set([...RECEIVE_DROPS, ...GATEWAY_INGRESS_DROPS.map((n) => `gateway:${n}`)]);
    const unexpected = Object.keys(s.drops).filter((k) => !known.has(k) && !k.startsWith('gateway:malformed:'));
    expect(unexpected, 'drop counters that no received datagram should touch').toEqual([]);
    const g = s.gateway;
    // ICMP (ICMPv6) time exceeded is counted in ttl_exceeded (hop_limit_exceeded).
    const consumedOrReplied = g.arpRepliesSent + g.echoRepliesSent + g.arpRepliesReceived + g.neighbourAdvertisementsSent + g.neighbourAdvertisementsReceived;
    expect(s.received).toBe(s.entered + drops(RECEIVE_DROPS) + drops(GATEWAY_INGRESS_DROPS, 'gateway:') + consumedOrReplied);
    expect(s.sent).toBe(g.arpRepliesSent + g.echoRepliesSent + g.icmpTimeExceededSent + g.neighbourAdvertisementsSent);
    // The mix reached every path.
    expect(entered).toBeGreaterThan(0);
    expect(g.arpRepliesSent).toBeGreaterThan(0);
    expect(g.neighbourAdvertisementsSent).toBeGreaterThan(0);
    expect(g.neighbourAdvertisementsReceived).toBeGreaterThan(0);
    for (const reason of ['ndp_invalid', 'ndp_not_for_us', 'hop_limit_exceeded', 'link_local_not_routed']) expect(s.drops[`gateway:${reason}`], reason).toBeGreaterThan(0);
    expect(drops(RECEIVE_DROPS)).toBeGreaterThan(0);
    for (const reason of ['truncated', 'runt', 'unknown_vni', 'bad_flags']) expect(s.drops[reason], reason).toBeGreaterThan(0);
    expect(batches).toBeGreaterThan(DATAGRAMS / 256);
    expect(pool.inUse()).toBe(0);
    await p.close();
    port = undefined;
    expect(pool.inUse()).toBe(0);
  });
});
