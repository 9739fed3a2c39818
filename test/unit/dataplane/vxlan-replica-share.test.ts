import { describe, expect, it } from 'vitest';
import { parseGatewayAddress } from '../../../src/gateway/gateway-config.ts';
import { EGRESS_HELD, GatewayEdge, type GatewayWire } from '../../../src/gateway/gateway-edge.ts';
import { NeighbourState } from '../../../src/gateway/neighbour-table.ts';
import type { BatchedUdpSocket } from '../../../src/io/batched-udp-socket.ts';
import { KERNEL_HASH, STEERING_BUCKETS, steeredSocket, steeringSlot } from '../../../src/io/reuseport-steering.ts';
import { Rng } from '../../support/rng.ts';
import { AreaWord, HANDOFF_DATA_BYTES, HANDOFF_HEADER_WORDS, handoffRingAt, underMembershipLock, vxlanReplicaAreaLayout } from '../../../src/dataplane/ports/vxlan-replica-area.ts';
import { natShardKey, VxlanReplicaGroup } from '../../../src/dataplane/ports/vxlan-replica-group.ts';
import { KEEP, MAX_HOPS, VxlanReplicaShare } from '../../../src/dataplane/ports/vxlan-replica-share.ts';
import { StartedFlows } from '../../../src/dataplane/ports/vxlan-started-flows.ts';
import { buildFrame, type FrameSpec } from '../../../src/packet/frame-builder.ts';
import { buildIpv6Frame } from '../../../src/packet/ipv6-frame-builder.ts';
import { IpProto } from '../../../src/packet/ipv4.ts';
import { InvalidArgumentError, SharedLayoutError } from '../../../src/errors/catalog.ts';

const ip = (s: string): number => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
const GW_MAC: [number, number] = [0x0200, 0xc6120201];
const SERVER_MAC: [number, number] = [0x0200, 0xaa];

class Wire implements GatewayWire {
  released: number[] = [];
  learnedEntries: number[][] = [];
  emit(): void {}
  release(h: number): void {
    this.released.push(h);
  }
  discard(): void {}
  learned(...entry: number[]): void {
    this.learnedEntries.push(entry);
  }
}

/** A socket that records the programs attached to it. */
function fakeSocket(): BatchedUdpSocket & { programs: Uint32Array[] } {
  const programs: Uint32Array[] = [];
  return { programs, steer: (p: Uint32Array) => void programs.push(p.slice()) } as unknown as BatchedUdpSocket & { programs: Uint32Array[] };
}

function edge(wire: Wire): GatewayEdge {
  return new GatewayEdge({ addresses: [parseGatewayAddress('198.18.2.1/24')!], mac: GW_MAC, peerSubnets: [[{ addr: ip('198.18.2.0'), prefix: 24, mask: 0xffffff00 }]] }, wire);
}

const alloc = (n: number) => new SharedArrayBuffer(n);

describe('VxlanReplicaGroup: the kernel order of a reuseport group', () => {
  it('appends on join, moves the last socket into the hole on leave, and publishes each change under the seqlock', () => {
    const g = new VxlanReplicaGroup(alloc, { by: 'inner-source' }, 4);
    const w = new Int32Array(g.area);
    for (const m of [0, 1, 2, 3]) g.join(m);
    expect(g.members).toEqual([0, 1, 2, 3]);
    g.leave(1);
    expect(g.members).toEqual([0, 3, 2]);
    g.leave(0);
    expect(g.members).toEqual([2, 3]);
    expect(w[AreaWord.SEQ] % 2).toBe(0);
    expect(w[AreaWord.SIZE]).toBe(2);
    expect(w[AreaWord.ATTACHER]).toBe(2);
    const L = g.layout;
    expect([...w.subarray(L.indexAt, L.indexAt + 4)]).toEqual([-1, -1, 0, 1]);
    expect(g.attached()).toBe(false);
    w[AreaWord.ATTACHED_SEQ] = w[AreaWord.SEQ];
    expect(g.attached()).toBe(true);
    expect(() => g.join(4)).toThrow(InvalidArgumentError);
  });

  it("takes the order from the membership log (the kernel's), not from the order replicas are reported ready; a crashed member is removed when reported", () => {
    const g = new VxlanReplicaGroup(alloc, { by: 'inner-source' }, 4);
    const area = { words: new Int32Array(g.area), layout: g.layout };
    const bound: number[] = [];
    // Replicas 2, 0, 1 bind in that order (under the lock); the host learns they are ready as 0, 1, 2.
    for (const m of [2, 0, 1]) expect(underMembershipLock([area], m, m + 1, () => bound.push(m))).toBe(true);
    g.join(0);
    expect(g.members).toEqual([2, 0, 1]);
    g.join(1);
    g.join(2);
    expect(g.members).toEqual([2, 0, 1]);
    // 2 closes its socket gracefully (logged), then 3 binds; the host hears of both later.
    underMembershipLock([area], 2, -3, () => undefined);
    underMembershipLock([area], 3, 4, () => undefined);
    g.sync();
    expect(g.members).toEqual([1, 0, 3]);
    g.leave(2);
    expect(g.members).toEqual([1, 0, 3]);
    // 0 crashed: no record; removed when the host learns of it.
    g.leave(0);
    expect(g.members).toEqual([1, 3]);
    expect(Atomics.load(area.words, AreaWord.LOCK)).toBe(0);
    // A lock held elsewhere: the body does not run.
    Atomics.store(area.words, AreaWord.LOCK, 9);
    const t0 = performance.now();
    let ran = false;
    expect(underMembershipLock([area], 1, 2, () => (ran = true))).toBe(false);
    expect(ran).toBe(false);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(1500);
    // Its holder (member 8) crashed: the host frees the lock when it removes the member.
    g.leave(8);
    expect(underMembershipLock([area], 1, -2, () => (ran = true))).toBe(true);
    expect(ran).toBe(true);
  });

  it('gives the members equal shares of the buckets and moves only what a change needs, remembering the previous holder while it lives', () => {
    const g = new VxlanReplicaGroup(alloc, { by: 'inner-source' }, 8);
    const twin = new VxlanReplicaGroup(alloc, { by: 'inner-destination' }, 8);
    const counts = () => {
      const c = new Map<number, number>();
      for (const m of g.bucketOwners()) c.set(m, (c.get(m) ?? 0) + 1);
      return c;
    };
    const step = (change: () => void, moved: number) => {
      const before = g.bucketOwners();
      const movesBefore = g.moves;
      change();
      const after = g.bucketOwners();
      const changed = after.filter((m, b) => m !== before[b]).length;
      expect(changed).toBe(moved);
      for (let b = 0; b < STEERING_BUCKETS; b++) {
        if (after[b] !== before[b] && before[b] >= 0 && g.members.includes(before[b])) expect(g.bucketPrevious()[b]).toBe(before[b]);
      }
      return g.moves - movesBefore;
    };
    const both = (f: (x: VxlanReplicaGroup) => void) => () => [g, twin].forEach(f);
    expect(step(both((x) => x.join(0)), 256)).toBe(0); // from nobody: not a move between live members
    expect(counts()).toEqual(new Map([[0, 256]]));
    expect(step(both((x) => x.join(1)), 128)).toBe(128);
    expect(step(both((x) => x.join(2)), 85)).toBe(85);
    expect([...counts().values()].sort()).toEqual([85, 85, 86]);
    expect(step(both((x) => x.join(3)), 64)).toBe(64);
    expect([...counts().values()]).toEqual([64, 64, 64, 64]);
    // Retiring: its 64 buckets go to the others, each remembering it; nothing else moves.
    expect(step(both((x) => x.retire(1)), 64)).toBe(64);
    expect(counts().get(1)).toBeUndefined();
    // (With the buckets it gave 2 and 3 when they joined: it may hold flows of those too.)
    expect(g.bucketPrevious().filter((p) => p === 1).length).toBeGreaterThanOrEqual(64);
    // It leaves: no bucket moves, and no bucket names it any more.
    expect(step(both((x) => x.leave(1)), 0)).toBe(0);
    expect(g.bucketPrevious().includes(1)).toBe(false);
    // A member that fails without retiring: its buckets are reassigned with no previous holder.
    const held = g.bucketOwners().flatMap((m, b) => (m === 2 ? [b] : []));
    step(both((x) => x.leave(2)), held.length);
    // (Their holder before it, if one lives, is the previous holder now.)
    for (const b of held) expect(g.bucketPrevious()[b] === -1 || (g.members.includes(g.bucketPrevious()[b]) && g.bucketPrevious()[b] !== g.bucketOwners()[b])).toBe(true);
    expect(g.bucketPrevious().includes(2) || g.bucketPrevious2().includes(2)).toBe(false);
    // A group that did not change moves nothing; the other end's group, given the same calls, has the same tables.
    expect(step(() => g.sync(), 0)).toBe(0);
    expect(twin.bucketOwners()).toEqual(g.bucketOwners());
    expect(twin.bucketPrevious()).toEqual(g.bucketPrevious());
    // Published for the replicas.
    const w = new Int32Array(g.area);
    expect([...w.subarray(g.layout.ownerAt, g.layout.ownerAt + STEERING_BUCKETS)]).toEqual(g.bucketOwners());
    expect([...w.subarray(g.layout.previousAt, g.layout.previousAt + STEERING_BUCKETS)]).toEqual(g.bucketPrevious());
    expect(() => g.retire(5)).toThrow(InvalidArgumentError);
  });

  it('over 300 random joins, retirements and leaves of 8 members: shares stay equal and every moved bucket goes to a member that was short', () => {
    const rng = new Rng(0x6b);
    const g = new VxlanReplicaGroup(alloc, { by: 'inner-source' }, 8);
    const retired = new Set<number>();
    for (let i = 0; i < 300; i++) {
      const before = g.bucketOwners();
      const m = rng.int(8);
      if (!g.members.includes(m)) {
        g.join(m);
        retired.delete(m);
      } else if (!retired.has(m) && rng.int(2) === 0) {
        g.retire(m);
        retired.add(m);
      } else {
        g.leave(m);
        retired.delete(m);
      }
      const after = g.bucketOwners();
      const live = g.members;
      const takers = live.filter((x) => !retired.has(x));
      const holders = takers.length > 0 ? takers : live;
      const count = (owners: readonly number[], x: number) => owners.filter((o) => o === x).length;
      if (holders.length === 0) {
        expect(after.every((o) => o === -1)).toBe(true);
        continue;
      }
      const low = Math.floor(STEERING_BUCKETS / holders.length);
      for (const x of holders) expect(count(after, x)).toBeGreaterThanOrEqual(low);
      for (const x of holders) expect(count(after, x)).toBeLessThanOrEqual(low + 1);
      // Minimal: a bucket moves only to a member that gained, never between two that kept their count.
      const moved = after.filter((o, b) => o !== before[b]).length;
      const gained = holders.reduce((n, x) => n + Math.max(0, count(after, x) - count(before, x)), 0);
      expect(moved).toBe(gained);
      const prev = g.bucketPrevious();
      const prev2 = g.bucketPrevious2();
      for (let b = 0; b < STEERING_BUCKETS; b++) if (prev[b] >= 0) expect(live.includes(prev[b]) && prev[b] !== after[b]).toBe(true);
      for (let b = 0; b < STEERING_BUCKETS; b++) if (prev2[b] >= 0) expect(prev[b] >= 0 && live.includes(prev2[b]) && prev2[b] !== after[b] && prev2[b] !== prev[b]).toBe(true);
    }
  });

  it('port-shard: each NAT shard steers to the socket of the replica that holds it', () => {
    const g = new VxlanReplicaGroup(alloc, { by: 'port-shard', base: 20000, shardSize: 5000, shards: 2 }, 4);
    expect(() => g.join(0)).toThrow(InvalidArgumentError);
    g.join(2, 1);
    g.join(0, 0);
    // Hashed frames (IPv6) by bucket: member 2 held them all, then gave its upper half to 0 (socket 1).
    expect(g.steeringKey()).toEqual({ by: 'port-shard', base: 20000, shardSize: 5000, sockets: [1, 0, 0], buckets: [...Array(128).fill(0), ...Array(128).fill(1)] });
  });

  it("natShardKey cuts a NAT range as the NAT's shardPortRange does: every port of a shard steers to its holder's socket, the rest to the last", async () => {
    const { shardPortRange } = await import('../../../functions/nat/nat-engine.ts');
    const g = new VxlanReplicaGroup(alloc, natShardKey(20000, 30000, 3), 4);
    g.join(1, 2);
    g.join(0, 0);
    g.join(3, 1);
    const socketOf = new Map([[2, 0], [0, 1], [1, 2]]);
    const key = g.steeringKey();
    const mem = new Uint8Array(256);
    const view = new DataView(mem.buffer);
    for (let shard = 0; shard < 3; shard++) {
      const [from, to] = shardPortRange(20000, 30000, { index: shard, count: 3 });
      for (const port of [from, to]) {
        const len = 8 + buildFrame(view, 8, { proto: IpProto.TCP, srcIp: ip('198.18.3.11'), dstIp: ip('198.18.3.2'), srcPort: 8080, dstPort: port });
        expect(steeredSocket(key, 3, view, 0, len)).toBe(socketOf.get(shard));
      }
    }
  });
});

describe('VxlanReplicaShare: a replica reads its steering and shares its neighbours', () => {
  it('applies the published steering (the attacher attaches), and counts datagrams the program meant for another socket', () => {
    const g = new VxlanReplicaGroup(alloc, { by: 'inner-source' }, 4);
    const a = new VxlanReplicaShare(g.area, 4, 0, undefined, new StartedFlows());
    const b = new VxlanReplicaShare(g.area, 4, 1, undefined, new StartedFlows());
    const sa = fakeSocket();
    const sb = fakeSocket();
    a.bind(edge(new Wire()), sa);
    b.bind(edge(new Wire()), sb);
    g.join(0);
    g.join(1);
    a.sync(0);
    b.sync(0);
    expect(sa.programs).toHaveLength(1);
    expect(sb.programs).toHaveLength(0);
    expect(g.attached()).toBe(true);
    expect([a.index, b.index, a.size]).toEqual([0, 1, 2]);
    // Connection starts (VXLAN header, then the frame) from many client ports: each counts as misdirected at the replica the program did not pick, and goes to the other.
    const mem = new Uint8Array(256);
    const view = new DataView(mem.buffer);
    let misdirected = 0;
    for (let port = 40000; port < 40064; port++) {
      const len = 8 + buildFrame(view, 8, { proto: IpProto.TCP, srcIp: ip('198.18.1.2'), dstIp: ip('198.18.2.2'), srcPort: port, dstPort: 80, tcpFlags: 0x02 });
      const to = steeredSocket(g.steeringKey(), 2, view, 0, len);
      expect(to).not.toBe(KERNEL_HASH);
      expect(a.route(view, 0, len, 0)).toBe(to !== 0 ? 1 : KEEP);
      expect(b.route(view, 0, len, 0)).toBe(to !== 1 ? 0 : KEEP);
      misdirected++;
    }
    expect(a.counters.misdirected + b.counters.misdirected).toBe(misdirected);
    // A torn write (odd sequence) is not applied.
    const w = new Int32Array(g.area);
    Atomics.add(w, AreaWord.SEQ, 1);
    w[AreaWord.SIZE] = 3;
    a.sync(0);
    expect(a.size).toBe(2);
  });

  it('ignores a published index or size outside the layout', () => {
    const g = new VxlanReplicaGroup(alloc, { by: 'inner-source' }, 2);
    const a = new VxlanReplicaShare(g.area, 2, 0);
    a.bind(edge(new Wire()), fakeSocket());
    g.join(0);
    const w = new Int32Array(g.area);
    w[AreaWord.SIZE] = 1000;
    Atomics.add(w, AreaWord.SEQ, 2);
    a.sync(0);
    expect(a.size).toBe(0);
  });

  it("a neighbour one replica's gateway learns is adopted by the others, releasing the frames they held for it; bad entries are refused", () => {
    const g = new VxlanReplicaGroup(alloc, { by: 'inner-destination' }, 3);
    const wires = [new Wire(), new Wire(), new Wire()];
    const edges = wires.map(edge);
    const shares = [0, 1, 2].map((m) => new VxlanReplicaShare(g.prepare(m).area, 3, m));
    shares.forEach((s, m) => {
      s.bind(edges[m], fakeSocket());
      wires[m].learned = (...e: number[]) => (s.learned as (...x: number[]) => void)(...e);
    });
    // Replica 1 holds a frame for the server while its ARP request is out.
    const mem = new Uint8Array(1024);
    const view = new DataView(mem.buffer);
    const len = buildFrame(view, 128, { proto: IpProto.TCP, srcIp: ip('198.18.1.2'), dstIp: ip('198.18.2.2'), dstMac: GW_MAC, srcMac: [0x0200, 2] });
    expect(edges[1].toWire(view, 128, len, 77, 0)).toBe(EGRESS_HELD);
    // The answer reached replica 0 (the kernel's hash): it learns, and writes it to its ring.
    const arpLen = buildFrame(view, 512, { kind: 'arp', arpOp: 2, dstMac: GW_MAC, srcMac: SERVER_MAC, arpSha: SERVER_MAC, arpSpa: ip('198.18.2.2'), arpTha: GW_MAC, arpTpa: ip('198.18.2.1') });
    edges[0].fromWire(view, 512, arpLen, 0, 1);
    shares[1].sync(2);
    shares[2].sync(2);
    expect(wires[1].released).toEqual([77]);
    for (const e of [edges[1], edges[2]]) {
      const s = e.neighbours.find(ip('198.18.2.2'), 0, 0, 0);
      expect(e.neighbours.state[s]).toBe(NeighbourState.REACHABLE);
      expect([e.neighbours.macHi[s], e.neighbours.macLo[s]]).toEqual(SERVER_MAC);
    }
    expect(shares[1].counters.adopted).toBe(1);
    // Adopted entries are not passed on again.
    expect(wires[1].learnedEntries).toEqual([]);
    // An entry naming a peer or address this end does not have is refused.
    shares[0].learned(1, ip('198.18.9.9'), 0, 0, 0, 0x0200, 1, 0);
    shares[0].learned(1, ip('198.18.2.3'), 0, 0, 0, 0x0200, 1, 5);
    shares[0].learned(3, ip('198.18.2.3'), 0, 0, 0, 0x0200, 1, 0);
    shares[1].sync(3);
    expect(shares[1].counters.rejected).toBe(3);
  });

  it('a reader lapped by a writer counts what it lost; a member number reused gets an empty ring', () => {
    const g = new VxlanReplicaGroup(alloc, { by: 'inner-destination' }, 2, 4);
    const reader = new VxlanReplicaShare(g.area, 2, 0, 4);
    reader.bind(edge(new Wire()), fakeSocket());
    const writer = new VxlanReplicaShare(g.prepare(1).area, 2, 1, 4);
    for (let i = 0; i < 10; i++) writer.learned(1, ip('198.18.2.10') + i, 0, 0, 0, 0x0200, 0x10 + i, 0);
    reader.sync(0);
    expect(reader.counters.overruns).toBe(6);
    expect(reader.counters.adopted).toBe(4);
    g.prepare(1);
    const again = new VxlanReplicaShare(g.area, 2, 1, 4);
    again.learned(1, ip('198.18.2.50'), 0, 0, 0, 0x0200, 0x50, 0);
    reader.sync(1);
    expect(reader.counters.adopted).toBe(5);
  });

  it('refuses an area laid out for another member count', () => {
    const g = new VxlanReplicaGroup(alloc, { by: 'inner-source' }, 4);
    expect(() => new VxlanReplicaShare(g.area, 2, 0)).toThrow(SharedLayoutError);
    expect(() => new VxlanReplicaShare(new SharedArrayBuffer(16), 4, 0)).toThrow(SharedLayoutError);
    expect(() => new VxlanReplicaShare(g.area, 4, 4)).toThrow(RangeError);
    expect(vxlanReplicaAreaLayout(4).bytes).toBeLessThanOrEqual(g.area.byteLength);
  });
});

/** A VXLAN payload carrying `spec` in `view` at 0; its length. */
function vxlan(view: DataView, spec: FrameSpec): number {
  return 8 + buildFrame(view, 8, spec);
}

/** Client ports whose flow from `client` falls in a bucket `inBucket` accepts (by inner source). */
function portsWhere(client: number, inBucket: (b: number) => boolean, n: number, from = 30000): number[] {
  const view = new DataView(new ArrayBuffer(256));
  const out: number[] = [];
  for (let port = from; out.length < n; port++) {
    const len = vxlan(view, { proto: IpProto.TCP, srcIp: client, dstIp: ip('198.18.2.2'), srcPort: port, dstPort: 80 });
    if (inBucket(steeringSlot({ by: 'inner-source' }, view, 0, len))) out.push(port);
  }
  return out;
}

describe('VxlanReplicaShare.route: a moved bucket keeps its established flows on their replica', () => {
  const CLIENT = ip('198.18.1.2');
  const SERVER = ip('198.18.2.2');
  const view = new DataView(new ArrayBuffer(2048));
  const seg = (port: number, tcpFlags: number) => vxlan(view, { proto: IpProto.TCP, srcIp: CLIENT, dstIp: SERVER, srcPort: port, dstPort: 80, tcpFlags });
  const reply = (port: number, tcpFlags: number) => vxlan(view, { proto: IpProto.TCP, srcIp: SERVER, dstIp: CLIENT, srcPort: 80, dstPort: port, tcpFlags });
  const SYN = 0x02;
  const ACK = 0x10;

  it('scale out, then scale in: starts stay, a flow started elsewhere goes to the replica that saw it start, both ends alike', () => {
    const inside = new VxlanReplicaGroup(alloc, { by: 'inner-source' }, 4);
    const outside = new VxlanReplicaGroup(alloc, { by: 'inner-destination' }, 4);
    const flows = [new StartedFlows(), new StartedFlows()];
    const share = (g: VxlanReplicaGroup, m: number) => {
      const s = new VxlanReplicaShare(g.prepare(m).area, 4, m, undefined, flows[m]);
      s.bind(edge(new Wire()), fakeSocket());
      return s;
    };
    const i0 = share(inside, 0);
    const o0 = share(outside, 0);
    for (const g of [inside, outside]) g.join(0);
    const sync = () => [i0, o0, ...rest].forEach((s) => s.sync(1));
    const rest: VxlanReplicaShare[] = [];
    sync();
    // Replica 0 alone: long-lived connections start on it, in the upper buckets (those replica 1 will take).
    const old = portsWhere(CLIENT, (b) => b >= 128, 3);
    for (const p of old) expect(i0.route(view, 0, seg(p, SYN), 0)).toBe(KEEP);
    for (const p of old) expect(o0.route(view, 0, reply(p, SYN | ACK), 0)).toBe(KEEP);
    // Scale out: replica 1 joins and takes the upper half; 0 is their previous holder.
    const i1 = share(inside, 1);
    const o1 = share(outside, 1);
    rest.push(i1, o1);
    for (const g of [inside, outside]) g.join(1);
    sync();
    expect(inside.bucketOwners().slice(128).every((m) => m === 1)).toBe(true);
    for (const p of old) {
      // The old connections' segments, both ways, reach replica 1 and go to 0...
      expect(i1.route(view, 0, seg(p, ACK), 0)).toBe(0);
      expect(o1.route(view, 0, reply(p, ACK), 0)).toBe(0);
      // ...and where they still land on 0 (the new program not attached yet), they stay.
      expect(i0.route(view, 0, seg(p, ACK), 0)).toBe(KEEP);
      // A datagram handed as far as it may go stays.
      expect(i1.route(view, 0, seg(p, ACK), MAX_HOPS)).toBe(KEEP);
    }
    // A new connection in a moved bucket starts on 1 and stays there both ways, to its last segment.
    const fresh = portsWhere(CLIENT, (b) => b >= 128, 6).slice(3);
    for (const p of fresh) {
      expect(i0.route(view, 0, seg(p, SYN), 0)).toBe(1); // landed on 0 before the program changed: to its owner
      expect(i1.route(view, 0, seg(p, SYN), 0)).toBe(KEEP);
      expect(o1.route(view, 0, reply(p, SYN | ACK), 0)).toBe(KEEP);
      expect(i1.route(view, 0, seg(p, ACK), 0)).toBe(KEEP);
      expect(o1.route(view, 0, reply(p, ACK | 0x01), 0)).toBe(KEEP); // FIN: closing, still known
      expect(i1.route(view, 0, seg(p, ACK), 0)).toBe(KEEP);
    }
    // Other protocols have no start to tell them by: a moved bucket's UDP goes to its previous holder.
    const udp = vxlan(view, { proto: IpProto.UDP, srcIp: CLIENT, dstIp: SERVER, srcPort: fresh[0], dstPort: 53 });
    expect(i1.route(view, 0, udp, 0)).toBe(0);
    // IPv6 neighbour discovery is the gateway's own: it stays wherever it lands (echo requests to a moved bucket do not).
    let moved = 0;
    let echo = 0;
    for (let k = 0; k < 64; k++) {
      const client6 = [0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100 + k];
      const ns = 8 + buildIpv6Frame(view, 8, { src: client6, dst: [0xff02, 0, 0, 0, 0, 1, 0xff00, 1], proto: 58, icmpType: 135, icmpRest: 0 });
      expect(i1.route(view, 0, ns, 0)).toBe(KEEP);
      expect(i0.route(view, 0, ns, 0)).toBe(KEEP);
      const ping = 8 + buildIpv6Frame(view, 8, { src: client6, dst: [0x2001, 0xdb8, 1, 0, 0, 0, 0, 1], proto: 58, icmpType: 128, icmpRest: 0x10000 | k });
      const slot = steeringSlot({ by: 'inner-source' }, view, 0, ping);
      if (inside.bucketOwners()[slot] === 1) {
        moved++;
        if (i1.route(view, 0, ping, 0) === 0) echo++;
      }
    }
    expect(moved).toBeGreaterThan(0);
    expect(echo).toBe(moved);
    // Scale in: replica 1 retires; its buckets go back to 0, which keeps its own old flows and hands 1's to it.
    for (const g of [inside, outside]) g.retire(1);
    sync();
    expect(inside.bucketOwners().every((m) => m === 0)).toBe(true);
    for (const p of old) expect(i0.route(view, 0, seg(p, ACK), 0)).toBe(KEEP);
    for (const p of old) expect(o0.route(view, 0, reply(p, ACK), 0)).toBe(KEEP);
    for (const p of fresh) expect(i0.route(view, 0, seg(p, ACK), 0)).toBe(1);
    for (const p of fresh) expect(o0.route(view, 0, reply(p, ACK), 0)).toBe(1);
    // New connections start on 0.
    expect(i0.route(view, 0, seg(40999, SYN), 0)).toBe(KEEP);
    // 1 leaves: nothing names it any more, everything stays on 0.
    for (const g of [inside, outside]) g.leave(1);
    sync();
    for (const p of fresh) expect(i0.route(view, 0, seg(p, ACK), 0)).toBe(KEEP);
    expect(i0.counters.misdirected).toBe(6);
  });

  it("replicas joining one after the other: a bucket moved twice reaches the first holder's flows along the chain, each step one handoff, no loop", () => {
    const g = new VxlanReplicaGroup(alloc, { by: 'inner-source' }, 4);
    const flows = [new StartedFlows(), new StartedFlows(), new StartedFlows()];
    const shares: VxlanReplicaShare[] = [];
    const add = (m: number) => {
      const s = new VxlanReplicaShare(g.prepare(m).area, 4, m, undefined, flows[m]);
      s.bind(edge(new Wire()), fakeSocket());
      shares.push(s);
      g.join(m);
      shares.forEach((x) => x.sync(1));
    };
    add(0);
    const all = portsWhere(CLIENT, () => true, 400);
    for (const p of all) expect(shares[0].route(view, 0, seg(p, SYN), 0)).toBe(KEEP);
    add(1);
    const started1 = all.slice(0, 0);
    // Connections that start on 1 while it holds a bucket (the SYN lands on its owner).
    for (const p of portsWhere(CLIENT, (b) => g.bucketOwners()[b] === 1, 20, 50000)) {
      expect(shares[1].route(view, 0, seg(p, SYN), 0)).toBe(KEEP);
      started1.push(p);
    }
    add(2);
    const owners = g.bucketOwners();
    const prev = g.bucketPrevious();
    const prev2 = g.bucketPrevious2();
    const bucketOf = (p: number) => steeringSlot({ by: 'inner-source' }, view, 0, seg(p, ACK));
    // Buckets 0 gave 1, then 1 gave 2: 2 owns them, 1 then 0 held them before.
    const twice = all.filter((p) => owners[bucketOf(p)] === 2 && prev[bucketOf(p)] === 1);
    expect(twice.length).toBeGreaterThan(0);
    for (const p of twice) {
      expect(prev2[bucketOf(p)]).toBe(0);
      // 0's old flow: 2 → 1 → 0, where it stays.
      expect(shares[2].route(view, 0, seg(p, ACK), 0)).toBe(1);
      expect(shares[1].route(view, 0, seg(p, ACK), 1)).toBe(0);
      expect(shares[0].route(view, 0, seg(p, ACK), 2)).toBe(KEEP);
      // Landed on 0 (the program not attached yet): it stays.
      expect(shares[0].route(view, 0, seg(p, ACK), 0)).toBe(KEEP);
    }
    const twice1 = started1.filter((p) => owners[bucketOf(p)] === 2);
    expect(twice1.length).toBeGreaterThan(0);
    for (const p of twice1) {
      // 1's flow: 2 → 1; landed on 0 before the program changed: 0 → 2 → 1.
      expect(shares[2].route(view, 0, seg(p, ACK), 0)).toBe(1);
      expect(shares[1].route(view, 0, seg(p, ACK), 1)).toBe(KEEP);
      expect(shares[0].route(view, 0, seg(p, ACK), 0)).toBe(2);
      expect(shares[2].route(view, 0, seg(p, ACK), 1)).toBe(1);
    }
    // A flow nobody saw start ends at the last holder, within MAX_HOPS.
    const nobody = 61000;
    let at = owners[bucketOf(nobody)];
    let hops = 0;
    for (let to; (to = shares[at].route(view, 0, seg(nobody, ACK), hops)) !== KEEP; hops++) at = to;
    expect(hops).toBeLessThanOrEqual(MAX_HOPS);
  });

  it('route keys whole TCP segments by the same bucket as the model (one parse), and everything else by the model itself', () => {
    const g = new VxlanReplicaGroup(alloc, { by: 'inner-destination' }, 4);
    const shares = [0, 1, 2].map((m) => {
      const x = new VxlanReplicaShare(g.prepare(m).area, 4, m, undefined, new StartedFlows());
      x.bind(edge(new Wire()), fakeSocket());
      g.join(m);
      return x;
    });
    shares.forEach((x) => x.sync(1));
    const me = shares[2];
    const owners = g.bucketOwners();
    const prev = g.bucketPrevious();
    const rng = new Rng(77);
    const v = new DataView(new ArrayBuffer(512));
    let checked = 0;
    for (let i = 0; i < 3000; i++) {
      const ipFlags = rng.int(6) === 0 ? 1 : 2; // some first fragments (MF): keyed without ports
      const proto = rng.int(4) === 0 ? IpProto.UDP : IpProto.TCP;
      const whole = vxlan(v, { proto, srcIp: ip('198.18.2.2'), dstIp: (ip('198.18.1.0') + rng.int(65536)) >>> 0, srcPort: 80, dstPort: 1 + rng.int(65535), tcpFlags: 0x10, ipFlags });
      const len = rng.int(8) === 0 ? 8 + rng.int(whole - 8) : whole;
      const slot = steeringSlot({ by: 'inner-destination' }, v, 0, len);
      const got = me.route(v, 0, len, 0);
      if (slot < 0) {
        expect(got).toBe(KEEP);
        continue;
      }
      // A whole TCP segment (nobody saw it start): from the owner to the previous holder; anything else to the previous holder, else the owner.
      const tcp = proto === IpProto.TCP && ipFlags !== 1 && len >= 8 + 14 + 20 + 14;
      const owner = owners[slot];
      const to = tcp ? (owner === 2 ? prev[slot] : owner) : prev[slot] >= 0 ? prev[slot] : owner;
      expect(got, `frame ${i}`).toBe(to < 0 || to === 2 ? KEEP : to);
      checked++;
    }
    expect(checked).toBeGreaterThan(1500);
  });

  it('hands datagrams over the ring byte for byte with their outer source; a full ring counts what it lost; handedTo sums what the others handed', () => {
    const g = new VxlanReplicaGroup(alloc, { by: 'inner-source' }, 3, undefined, 4);
    const a = new VxlanReplicaShare(g.prepare(0).area, 3, 0, undefined, new StartedFlows());
    const b = new VxlanReplicaShare(g.prepare(1).area, 3, 1, undefined, new StartedFlows());
    const c = new VxlanReplicaShare(g.prepare(2).area, 3, 2, undefined, new StartedFlows());
    const src = new DataView(new ArrayBuffer(4096));
    const dst = new DataView(new ArrayBuffer(4096));
    const rng = new Rng(3);
    const sent: number[][] = [];
    for (let k = 0; k < 6; k++) {
      const len = [61, 64, 1522, 2054, 1, 999][k];
      const bytes = Array.from({ length: len }, () => rng.int(256));
      bytes.forEach((v, i) => src.setUint8(100 + i, v));
      const ok = (k % 2 === 0 ? a : c).handOff(1, src, 100, len, ip('198.19.0.2') + k, 4789 + k);
      expect(ok).toBe(true);
      sent.push(bytes);
    }
    expect(g.handedTo(1)).toBe(6);
    expect(b.waiting()).toBe(6);
    const got: number[][] = [];
    const from: number[] = [];
    for (let len; (len = b.receiveHanded(dst, 3, 4000)) >= 0; ) {
      got.push(Array.from({ length: len }, (_, i) => dst.getUint8(3 + i)));
      from.push(b.handedAddress - ip('198.19.0.2'));
      expect(b.handedPort).toBe(4789 + from[from.length - 1]);
    }
    expect(got.length).toBe(6);
    for (let i = 0; i < 6; i++) expect(got[i]).toEqual(sent[from[i]]);
    expect(b.counters.handedIn).toBe(6);
    expect(a.counters.handedOut + c.counters.handedOut).toBe(6);
    // 4 slots: the fifth waits for the reader, counted lost; too long for a slot, lost too.
    for (let k = 0; k < 5; k++) a.handOff(1, src, 100, 100, 1, 1);
    expect(a.counters.handoffLost).toBe(1);
    expect(a.handOff(1, src, 0, HANDOFF_DATA_BYTES + 1, 1, 1)).toBe(false);
    expect(a.handOff(0, src, 0, 10, 1, 1)).toBe(false);
    expect(a.counters.handoffLost).toBe(3);
    expect(b.waiting()).toBe(4);
    expect(g.handedTo(1)).toBe(10);
  });

  it('rejects and counts what a hostile or broken peer wrote into its ring (lengths past the slot or the buffer, counters that cannot be), never throws, and runs on across the counters wrapping', () => {
    const g = new VxlanReplicaGroup(alloc, { by: 'inner-source' }, 2, undefined, 8);
    const w = new Int32Array(g.area);
    const reader = new VxlanReplicaShare(g.prepare(0).area, 2, 0, undefined, new StartedFlows());
    const writer = new VxlanReplicaShare(g.prepare(1).area, 2, 1, undefined, new StartedFlows());
    const ring = handoffRingAt(g.layout, 1, 0);
    const slotAt = (n: number) => ring + HANDOFF_HEADER_WORDS + (n % 8) * (4 + HANDOFF_DATA_BYTES / 4);
    const dst = new DataView(new ArrayBuffer(4096));
    const src = new DataView(new ArrayBuffer(4096));
    // Three slots written by hand: a length past the slot, a negative one, one past the reader's buffer; then a good one.
    for (let k = 0; k < 4; k++) writer.handOff(0, src, 0, 100, 1, 2);
    w[slotAt(0)] = HANDOFF_DATA_BYTES + 4;
    w[slotAt(1)] = -7;
    w[slotAt(2)] = 3000;
    expect(reader.receiveHanded(dst, 0, 2000)).toBe(100);
    expect(reader.counters.handoffRejected).toBe(3);
    expect(reader.receiveHanded(dst, 0, 2000)).toBe(-1);
    // A write counter far ahead of the reader (more than the slots): counted once, read from there on.
    w[ring] = (w[ring] + 1000) | 0;
    expect(reader.waiting()).toBe(1);
    expect(reader.receiveHanded(dst, 0, 2000)).toBe(-1);
    expect(reader.counters.handoffRejected).toBe(4);
    // Behind the reader: the same.
    w[ring] = (w[ring] - 3) | 0;
    expect(reader.receiveHanded(dst, 0, 2000)).toBe(-1);
    expect(reader.counters.handoffRejected).toBe(5);
    // The writer finds the reader's counter ahead of its own: it counts what it cannot hand, it does not overwrite.
    expect(writer.handOff(0, src, 0, 10, 1, 2)).toBe(false);
    expect(writer.counters.handoffLost).toBe(1);
    // Counters near the top of int32 wrap on, datagrams intact.
    const g2 = new VxlanReplicaGroup(alloc, { by: 'inner-source' }, 2, undefined, 8);
    const w2 = new Int32Array(g2.area);
    const ring2 = handoffRingAt(g2.layout, 1, 0);
    w2[ring2] = 0x7ffffffd;
    w2[ring2 + 1] = 0x7ffffffd;
    const r2 = new VxlanReplicaShare(g2.prepare(0).area, 2, 0, undefined, new StartedFlows());
    const w2r = new VxlanReplicaShare(g2.prepare(1).area, 2, 1, undefined, new StartedFlows());
    for (let k = 0; k < 20; k++) {
      src.setUint32(0, 0xc0de0000 + k);
      expect(w2r.handOff(0, src, 0, 4 + k, 1, 2)).toBe(true);
      expect(r2.receiveHanded(dst, 0, 2000)).toBe(4 + k);
      expect(dst.getUint32(0)).toBe(0xc0de0000 + k);
    }
    expect(r2.counters.handoffRejected).toBe(0);
    expect(w2[ring2]).toBeLessThan(0);
    expect(g2.handedTo(0)).toBe((0x7ffffffd + 20) % 2 ** 32);
  });
});

describe('StartedFlows: the flows a replica saw start', () => {
  it('knows a started flow until its entry is replaced: a closing one after the linger, an open one only past its maximum age, and counts starts with no room', () => {
    const t = new StartedFlows(16);
    for (let k = 0; k < 16; k++) t.record(ip('198.18.1.2'), 40000 + k, 0);
    expect(t.size).toBe(16);
    for (let k = 0; k < 16; k++) expect(t.has(ip('198.18.1.2'), 40000 + k)).toBe(true);
    expect(t.has(ip('198.18.1.3'), 40000)).toBe(false);
    t.record(ip('198.18.1.3'), 1, 1000);
    expect(t.full).toBe(1);
    t.close(ip('198.18.1.2'), 40003, 1000);
    expect(t.has(ip('198.18.1.2'), 40003)).toBe(true);
    t.record(ip('198.18.1.3'), 1, 5000);
    expect(t.full).toBe(2);
    t.record(ip('198.18.1.3'), 1, 20_000);
    expect(t.has(ip('198.18.1.3'), 1)).toBe(true);
    expect(t.has(ip('198.18.1.2'), 40003)).toBe(false);
    t.record(ip('198.18.1.3'), 2, 700_000);
    expect(t.has(ip('198.18.1.3'), 2)).toBe(true);
    expect(t.full).toBe(2);
    expect(() => new StartedFlows(100)).toThrow(RangeError);
  });
});
