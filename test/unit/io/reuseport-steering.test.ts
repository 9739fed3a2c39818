import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { openBatchedUdpSocket, type BatchedUdpSocket } from '../../../src/io/batched-udp-socket.ts';
import { KERNEL_HASH, MAX_STEERED_SOCKETS, SLOT_KERNEL, SLOT_SHARD, STEERING_BUCKETS, steeredSocket, steeringProgram, steeringSlot, VXLAN_INNER_OFFSET, type SteeringKey } from '../../../src/io/reuseport-steering.ts';
import { UDP_DESC_WORDS, UdpRx } from '../../../src/io/udp-descriptor.ts';
import { nativeAddonOrNull } from '../../../src/native/native-addon.ts';
import { buildFrame, type FrameSpec } from '../../../src/packet/frame-builder.ts';
import { IpProto } from '../../../src/packet/ipv4.ts';
import { buildIpv6Frame, type Ipv6FrameSpec } from '../../../src/packet/ipv6-frame-builder.ts';
import { Rng } from '../../support/rng.ts';

const SLOT = 2048;
const MEMORY = 1024 * SLOT;
const GROUP = 3;

/** A VXLAN payload: 8-byte header whose reserved bytes 1..3 carry `seq`, then the frame (cut to `cut` bytes if given). */
function datagram(seq: number, spec: FrameSpec | { readonly v6: Ipv6FrameSpec }, cut?: number): Uint8Array {
  const view = new DataView(new ArrayBuffer(2048));
  view.setUint8(0, 0x08);
  view.setUint32(0, 0x08000000 | seq);
  view.setUint32(4, 42 << 8);
  const n = VXLAN_INNER_OFFSET + ('v6' in spec ? buildIpv6Frame(view, VXLAN_INNER_OFFSET, spec.v6) : buildFrame(view, VXLAN_INNER_OFFSET, spec));
  return new Uint8Array(view.buffer, 0, cut ?? n).slice();
}

/** A random address in 2001:db8:<net>::/48. */
function v6(rng: Rng, net: number): number[] {
  return [0x2001, 0xdb8, net, rng.int(65536), rng.int(65536), rng.int(65536), rng.int(65536), rng.int(65536)];
}

/** Random inner frames of every kind the program tells apart, IPv4 and IPv6. */
function randomSpec(rng: Rng): FrameSpec | { readonly v6: Ipv6FrameSpec } {
  if (rng.int(3) === 0) {
    const src = v6(rng, 1);
    const dst = v6(rng, 3);
    const srcPort = 1 + rng.int(65535);
    const dstPort = 1 + rng.int(65535);
    switch (rng.int(5)) {
      case 0:
        return { v6: { src, dst, proto: IpProto.UDP, srcPort, dstPort } };
      case 1:
        return { v6: { src, dst, proto: 58, icmpType: rng.int(2) === 0 ? 128 : 129, icmpRest: ((19000 + rng.int(8000)) << 16) | 1 } };
      case 2:
        return { v6: { src, dst, proto: 58, icmpType: 1, icmpRest: 0 } }; // destination unreachable: unkeyed
      case 3:
        return { v6: { src, dst, proto: IpProto.TCP, srcPort, dstPort, extensionHeaders: [{ type: 0 }] } }; // behind a hop-by-hop header: unkeyed
      default:
        return { v6: { src, dst, proto: IpProto.TCP, srcPort, dstPort, tcpFlags: 0x10 } };
    }
  }
  const srcIp = (0xc6120000 | rng.int(1 << 16)) >>> 0; // 198.18.x.y
  const dstIp = (0xc6130000 | rng.int(1 << 16)) >>> 0;
  const srcPort = 1 + rng.int(65535);
  const dstPort = rng.int(2) === 0 ? 20000 + rng.int(12000) : 1 + rng.int(65535);
  switch (rng.int(8)) {
    case 0:
      return { proto: IpProto.UDP, srcIp, dstIp, srcPort, dstPort };
    case 1:
      return { proto: IpProto.ICMP, srcIp, dstIp, icmpType: rng.int(2) === 0 ? 8 : 0, icmpId: 19000 + rng.int(8000), icmpSeq: 1 };
    case 2:
      return { proto: IpProto.ICMP, srcIp, dstIp, icmpType: 3, icmpId: 0, icmpSeq: 0 };
    case 3:
      return { proto: IpProto.UDP, srcIp, dstIp, srcPort, dstPort, ipFlags: 1, payloadLength: 64 };
    case 4:
      return { kind: 'arp' };
    case 5:
      return { proto: 47, srcIp, dstIp, payloadLength: 20 }; // GRE: no ports
    default:
      return { proto: IpProto.TCP, srcIp, dstIp, srcPort, dstPort, tcpFlags: 0x10 };
  }
}

describe('steeringProgram: its shape', () => {
  it('refuses a group size or shard map it cannot steer, with the reason', () => {
    expect(() => steeringProgram({ by: 'inner-source' }, 0)).toThrow(/1\.\.256 sockets/);
    expect(() => steeringProgram({ by: 'inner-source' }, MAX_STEERED_SOCKETS + 1)).toThrow(/1\.\.256 sockets/);
    expect(() => steeringProgram({ by: 'port-shard', base: 20000, shardSize: 0, sockets: [0] }, 1)).toThrow(/shard size/);
    expect(() => steeringProgram({ by: 'port-shard', base: 20000, shardSize: 100, sockets: [0, 2] }, 2)).toThrow(/socket index below 2/);
    expect(() => steeringProgram({ by: 'port-shard', base: 70000, shardSize: 100, sockets: [0] }, 1)).toThrow(/base port/);
  });

  it('refuses a bucket table that is not one socket index below the group size per bucket', () => {
    expect(() => steeringProgram({ by: 'inner-source', buckets: new Array(255).fill(0) }, 2)).toThrow(/256 socket indexes below 2/);
    expect(() => steeringProgram({ by: 'inner-source', buckets: new Array(256).fill(2) }, 2)).toThrow(/below 2/);
    expect(() => steeringProgram({ by: 'inner-destination', buckets: new Array(256).fill(0.5) }, 2)).toThrow(/below 2/);
  });

  it('a bucket table costs at most 3 instructions per run of equal socket', () => {
    const plain = steeringProgram({ by: 'inner-source' }, 2).length / 2;
    const halves = Array.from({ length: STEERING_BUCKETS }, (_, b) => (b < 128 ? 0 : 1));
    expect(steeringProgram({ by: 'inner-source', buckets: halves }, 2).length / 2).toBeLessThanOrEqual(plain - 2 + 3 * 2);
    const alternating = Array.from({ length: STEERING_BUCKETS }, (_, b) => b % 2);
    expect(steeringProgram({ by: 'inner-source', buckets: alternating }, 2).length / 2).toBeLessThanOrEqual(plain - 2 + 3 * 256);
  });

  it('assembles forward jumps only, within the kernel’s limits, even for 256 shards and a bucket table of 256 runs', () => {
    const key: SteeringKey = { by: 'port-shard', base: 1024, shardSize: 252, sockets: Array.from({ length: 256 }, (_, i) => i % 7), buckets: Array.from({ length: 256 }, (_, b) => b % 7) };
    for (const program of [steeringProgram(key, 7), steeringProgram({ by: 'inner-destination' }, 256), steeringProgram({ by: 'inner-source', buckets: Array.from({ length: 256 }, (_, b) => b) }, 256)]) {
      expect(program.length % 2).toBe(0);
      expect(program.length / 2).toBeLessThanOrEqual(4096);
      const count = program.length / 2;
      for (let i = 0; i < count; i++) {
        const code = program[i * 2] & 0xffff;
        const jt = (program[i * 2] >>> 16) & 0xff;
        const jf = program[i * 2] >>> 24;
        if ((code & 0x07) === 0x05) expect(i + 1 + Math.max(jt, code === 0x05 ? program[i * 2 + 1] : jf)).toBeLessThan(count);
      }
      expect(program[(count - 1) * 2] & 0x07).toBe(0x06); // ends with a return
    }
  });
});

const addon = nativeAddonOrNull();

describe.runIf(addon !== null)('steeringProgram in the kernel: each datagram reaches the socket its model names', () => {
  let memory: Uint8Array;
  let group: BatchedUdpSocket[] = [];
  let sender: Socket | undefined;

  afterEach(async () => {
    await Promise.all(group.map((s) => s.close()));
    group = [];
    sender?.close();
    sender = undefined;
  });

  /** A group of `GROUP` native sockets on one loopback port, steered by `key`. */
  async function steeredGroup(key: SteeringKey): Promise<number> {
    memory = new Uint8Array(MEMORY);
    // Room for every datagram of a test in one socket (those left to the kernel's hash all go to one).
    const options = { memory, backend: 'native', reusePort: true, receiveBufferBytes: 1 << 22 } as const;
    const first = await openBatchedUdpSocket({ listen: { address: '127.0.0.1', port: 0 }, ...options });
    group = [first];
    for (let i = 1; i < GROUP; i++) group.push(await openBatchedUdpSocket({ listen: { address: '127.0.0.1', port: first.localPort }, ...options }));
    first.steer(steeringProgram(key, GROUP));
    return first.localPort;
  }

  /** Which socket of the group received each sequence number. */
  async function receivedBy(want: number): Promise<Map<number, number>> {
    const got = new Map<number, number>();
    const rows = new Uint32Array(64 * UDP_DESC_WORDS);
    const view = new DataView(memory.buffer);
    const deadline = performance.now() + 3000;
    while (got.size < want && performance.now() < deadline) {
      for (let s = 0; s < group.length; s++) {
        for (let i = 0; i < 64; i++) {
          rows[i * UDP_DESC_WORDS + UdpRx.offset] = (s * 64 + i) * SLOT;
          rows[i * UDP_DESC_WORDS + UdpRx.capacity] = SLOT;
        }
        const n = group[s].receive(rows, 64);
        for (let i = 0; i < n; i++) got.set(view.getUint32(rows[i * UDP_DESC_WORDS + UdpRx.offset]) & 0xffffff, s);
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    return got;
  }

  async function send(port: number, datagrams: Uint8Array[]): Promise<void> {
    sender = createSocket('udp4');
    sender.bind(0, '127.0.0.1');
    await once(sender, 'listening');
    for (const d of datagrams) await new Promise<void>((resolve, reject) => sender!.send(d, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  }

  const KEYS: SteeringKey[] = [{ by: 'inner-source' }, { by: 'inner-destination' }, { by: 'port-shard', base: 20000, shardSize: 2500, sockets: [2, 0, 1, 1] }];

  it.each(KEYS)('steers by $by: 600 random frames (TCP, UDP, ICMP echo and errors, fragments, ARP, other protocols, cut short) as the model says', async (key) => {
    const port = await steeredGroup(key);
    const rng = new Rng(0x5eed + key.by.length);
    const datagrams: Uint8Array[] = [];
    const expected: number[] = [];
    for (let seq = 0; seq < 600; seq++) {
      const whole = datagram(seq, randomSpec(rng));
      // One in ten cut short, somewhere in the inner headers.
      const d = rng.int(10) === 0 ? whole.slice(0, 8 + rng.int(Math.min(whole.length - 8, 50))) : whole;
      datagrams.push(d);
      expected.push(steeredSocket(key, GROUP, new DataView(d.buffer), 0, d.length));
    }
    await send(port, datagrams);
    const got = await receivedBy(datagrams.length);
    expect(got.size).toBe(datagrams.length);
    const hashed = new Set<number>();
    let steered = 0;
    for (let seq = 0; seq < datagrams.length; seq++) {
      if (expected[seq] === KERNEL_HASH) hashed.add(got.get(seq)!);
      else {
        expect(got.get(seq), `datagram ${seq}`).toBe(expected[seq]);
        steered++;
      }
    }
    // Left to the kernel: one sender, one outer 4-tuple, one socket.
    expect(hashed.size).toBeLessThanOrEqual(1);
    expect(steered).toBeGreaterThan(150);
    expect(new Set(expected.filter((e) => e !== KERNEL_HASH))).toEqual(new Set([0, 1, 2]));
  });

  it('with bucket tables: 2,000 random frames over 20 random tables (runs of every length) reach the socket the model names', async () => {
    const rng = new Rng(0xb0c4e7);
    let port = 0;
    let checked = 0;
    for (let t = 0; t < 20; t++) {
      // Runs of random lengths, each to a random socket: from one run to one per bucket.
      const buckets: number[] = [];
      const runLength = 1 + rng.int(t % 4 === 0 ? 2 : 64);
      while (buckets.length < STEERING_BUCKETS) {
        const s = rng.int(GROUP);
        for (let k = 0; k < runLength && buckets.length < STEERING_BUCKETS; k++) buckets.push(s);
      }
      const keys: SteeringKey[] = [
        { by: 'inner-source', buckets },
        { by: 'inner-destination', buckets },
        { by: 'port-shard', base: 20000, shardSize: 2500, sockets: [1, 2, 0], buckets },
      ];
      const key = keys[t % 3];
      if (t === 0) port = await steeredGroup(key);
      else group[0].steer(steeringProgram(key, GROUP));
      const datagrams: Uint8Array[] = [];
      const expected: number[] = [];
      for (let i = 0; i < 100; i++) {
        const whole = datagram(t * 100 + i, randomSpec(rng));
        datagrams.push(whole);
        expected.push(steeredSocket(key, GROUP, new DataView(whole.buffer), 0, whole.length));
      }
      await send(port, datagrams);
      const got = await receivedBy(datagrams.length);
      expect(got.size).toBe(datagrams.length);
      for (let i = 0; i < datagrams.length; i++) {
        if (expected[i] === KERNEL_HASH) continue;
        expect(got.get(t * 100 + i), `table ${t}, datagram ${i}`).toBe(expected[i]);
        checked++;
      }
      sender?.close();
      sender = undefined;
    }
    expect(checked).toBeGreaterThan(1000);
  });

  it('the model keys a hashed frame by its bucket and a port-shard frame by its shard; the socket is the table’s', () => {
    const rng = new Rng(5);
    const buckets = Array.from({ length: STEERING_BUCKETS }, () => rng.int(GROUP));
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const d = datagram(i, { proto: IpProto.TCP, srcIp: (0xc6120000 | rng.int(1 << 16)) >>> 0, dstIp: 0xc6130001, srcPort: 1024 + rng.int(60000), dstPort: 80 });
      const view = new DataView(d.buffer);
      const slot = steeringSlot({ by: 'inner-source' }, view, 0, d.length);
      expect(slot).toBeGreaterThanOrEqual(0);
      expect(slot).toBeLessThan(STEERING_BUCKETS);
      seen.add(slot);
      expect(steeredSocket({ by: 'inner-source', buckets }, GROUP, view, 0, d.length)).toBe(buckets[slot]);
      expect(steeredSocket({ by: 'inner-source' }, GROUP, view, 0, d.length)).toBe(slot % GROUP);
    }
    // 2,000 flows fill nearly all 256 buckets.
    expect(seen.size).toBeGreaterThan(240);
    const nat: SteeringKey = { by: 'port-shard', base: 20000, shardSize: 2500, sockets: [2, 0] };
    const reply = datagram(0, { proto: IpProto.TCP, srcIp: 0xc613030b, srcPort: 8080, dstIp: 0xc6130301, dstPort: 22501 });
    expect(steeringSlot(nat, new DataView(reply.buffer), 0, reply.length)).toBe(SLOT_SHARD + 1);
    const past = datagram(0, { proto: IpProto.TCP, srcIp: 0xc613030b, srcPort: 8080, dstIp: 0xc6130301, dstPort: 25001 });
    expect(steeringSlot(nat, new DataView(past.buffer), 0, past.length)).toBe(SLOT_KERNEL);
  });

  it('keeps both directions of an IPv6 flow on one replica: inside by source, outside by destination, also under a port-shard key (IPv6 is not translated)', () => {
    const rng = new Rng(11);
    const nat: SteeringKey = { by: 'port-shard', base: 20000, shardSize: 2500, sockets: [0, 1, 2] };
    const seen = new Set<number>();
    for (let i = 0; i < 300; i++) {
      const client = v6(rng, 1);
      const clientPort = 1024 + rng.int(60000);
      const inbound = datagram(i, { v6: { src: client, dst: v6(rng, 2), proto: IpProto.TCP, srcPort: clientPort, dstPort: 80 } });
      const replica = steeredSocket({ by: 'inner-source' }, GROUP, new DataView(inbound.buffer), 0, inbound.length);
      seen.add(replica);
      const reply = datagram(i, { v6: { src: v6(rng, 3), dst: client, proto: IpProto.TCP, srcPort: 8080, dstPort: clientPort } });
      expect(steeredSocket({ by: 'inner-destination' }, GROUP, new DataView(reply.buffer), 0, reply.length)).toBe(replica);
      expect(steeredSocket(nat, GROUP, new DataView(reply.buffer), 0, reply.length)).toBe(replica);
    }
    expect(seen).toEqual(new Set([0, 1, 2]));
  });

  it('keeps both directions of a flow on one replica: inside by source, outside by destination (untranslated) or by NAT port shard', () => {
    const rng = new Rng(7);
    const nat: SteeringKey = { by: 'port-shard', base: 20000, shardSize: 2500, sockets: [0, 1, 2] };
    for (let i = 0; i < 500; i++) {
      const client = { srcIp: (0xc6120000 | rng.int(1 << 16)) >>> 0, srcPort: 1024 + rng.int(60000) };
      const inbound = datagram(i, { proto: IpProto.TCP, ...client, dstIp: 0xc6120a0a, dstPort: 80 });
      const replica = steeredSocket({ by: 'inner-source' }, GROUP, new DataView(inbound.buffer), 0, inbound.length);
      const reply = datagram(i, { proto: IpProto.TCP, srcIp: 0xc613030b, srcPort: 8080, dstIp: client.srcIp, dstPort: client.srcPort });
      expect(steeredSocket({ by: 'inner-destination' }, GROUP, new DataView(reply.buffer), 0, reply.length)).toBe(replica);
      // Behind a NAT, replica r allocates from shard r: the reply names it by its port.
      const natPort = 20000 + replica * 2500 + rng.int(2500);
      const natReply = datagram(i, { proto: IpProto.TCP, srcIp: 0xc613030b, srcPort: 8080, dstIp: 0xc6130301, dstPort: natPort });
      expect(steeredSocket(nat, GROUP, new DataView(natReply.buffer), 0, natReply.length)).toBe(replica);
    }
  });

  it('refuses to steer a closed socket, and the dgram back end says it cannot steer', async () => {
    await steeredGroup({ by: 'inner-source' });
    await group[1].close();
    expect(() => group[1].steer(steeringProgram({ by: 'inner-source' }, GROUP))).toThrow(/closed/);
    const plain = await openBatchedUdpSocket({ listen: { address: '127.0.0.1', port: 0 }, memory, backend: 'dgram' });
    try {
      expect(() => plain.steer(steeringProgram({ by: 'inner-source' }, 1))).toThrow(/native UDP back end/);
    } finally {
      await plain.close();
    }
  });

  it('hands a program the kernel refuses back as a clear error (a jump past the end)', async () => {
    await steeredGroup({ by: 'inner-source' });
    const bad = new Uint32Array([0x15 | (5 << 16), 0x0800, 0x06, 0]); // jeq #0x800 jt +5: out of the program
    expect(() => group[0].steer(bad)).toThrow(/refused the steering program: setsockopt\(SO_ATTACH_REUSEPORT_CBPF\): Invalid argument/);
    expect(() => addon!.udpSteer({} as never, bad)).toThrow();
    expect(() => group[0].steer(new Uint32Array(3))).toThrow(/two words each/);
  });
});
