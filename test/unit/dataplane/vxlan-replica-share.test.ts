import { describe, expect, it } from 'vitest';
import { parseGatewayAddress } from '../../../src/gateway/gateway-config.ts';
import { EGRESS_HELD, GatewayEdge, type GatewayWire } from '../../../src/gateway/gateway-edge.ts';
import { NeighbourState } from '../../../src/gateway/neighbour-table.ts';
import type { BatchedUdpSocket } from '../../../src/io/batched-udp-socket.ts';
import { KERNEL_HASH, STEERING_BUCKETS, steeredSocket } from '../../../src/io/reuseport-steering.ts';
import { Rng } from '../../support/rng.ts';
import { AreaWord, underMembershipLock, vxlanReplicaAreaLayout } from '../../../src/dataplane/ports/vxlan-replica-area.ts';
import { natShardKey, VxlanReplicaGroup } from '../../../src/dataplane/ports/vxlan-replica-group.ts';
import { VxlanReplicaShare } from '../../../src/dataplane/ports/vxlan-replica-share.ts';
import { buildFrame } from '../../../src/packet/frame-builder.ts';
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
    for (const b of held) expect(g.bucketPrevious()[b]).toBe(-1);
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
      for (let b = 0; b < STEERING_BUCKETS; b++) if (prev[b] >= 0) expect(live.includes(prev[b]) && prev[b] !== after[b]).toBe(true);
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
    const a = new VxlanReplicaShare(g.area, 4, 0);
    const b = new VxlanReplicaShare(g.area, 4, 1);
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
    // Datagrams (VXLAN header, then the frame) from many client ports: each counts as misdirected at the replica the program did not pick.
    const mem = new Uint8Array(256);
    const view = new DataView(mem.buffer);
    let misdirected = 0;
    for (let port = 40000; port < 40064; port++) {
      const len = 8 + buildFrame(view, 8, { proto: IpProto.TCP, srcIp: ip('198.18.1.2'), dstIp: ip('198.18.2.2'), srcPort: port, dstPort: 80 });
      const to = steeredSocket(g.steeringKey(), 2, view, 0, len);
      expect(to).not.toBe(KERNEL_HASH);
      expect(a.check(view, 0, len)).toBe(to !== 0);
      expect(b.check(view, 0, len)).toBe(to !== 1);
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
