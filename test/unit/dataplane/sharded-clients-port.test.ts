import { describe, expect, it } from 'vitest';
import { CLIENT_PORT_BASE, FlowFrameKind, writeClientFrame, type ClientFlowsSpec } from '../../../src/dataplane/ports/client-flows.ts';
import { initShardBlock, NO_MEMBER, publishShardOwners, releaseShardsOf, SHARD_COUNT, shardBlockLayout } from '../../../src/dataplane/ports/client-shard-block.ts';
import { LOCAL_PORT_COUNTERS, LocalPortCounter, openLocalPorts, type LocalPorts } from '../../../src/dataplane/ports/local-ports.ts';
import { IpProto, parseIpv4 } from '../../../src/packet/ipv4.ts';
import { PacketPool } from '../../../src/pool/packet-pool.ts';

const ip = (s: string) => parseIpv4(s) as number;
const FLOWS: ClientFlowsSpec = { flows: 8, packetSize: 64, proto: IpProto.TCP, family: 4, clients: [ip('198.18.1.0')], hosts: 254, service: [ip('198.18.2.100')], servicePort: 80 };

/** One replica: its clients and responder over the pool, the chain between them a wire that passes every frame. */
interface Replica {
  readonly local: LocalPorts;
  readonly counters: Float64Array;
  /** Source ports of the SYNs it sent. */
  readonly synPorts: number[];
}

function replica(pool: PacketPool, block: SharedArrayBuffer, member: number, shards: number, extra: Partial<{ total: number; rate: number; flows: ClientFlowsSpec }> = {}): Replica {
  const counters = new Float64Array(LOCAL_PORT_COUNTERS);
  const flows = extra.flows ?? FLOWS;
  const local = openLocalPorts({ inside: { type: 'clients', ...flows, shards, member, block, ...(extra.total === undefined ? {} : { total: extra.total }), ...(extra.rate === undefined ? {} : { rate: extra.rate }) }, outside: { type: 'responder' } }, counters);
  return { local, counters, synPorts: [] };
}

/** One pass of a replica as its instance loop runs it: clients → wire → responder, answers → wire → clients. */
function pass(pool: PacketPool, r: Replica): number {
  const ids = new Uint32Array(256);
  const [clients, servers] = r.local.ports;
  const n = clients.fill(pool, ids, 256);
  for (let i = 0; i < n; i++) {
    const at = pool.dataOffset(ids[i]);
    if ((pool.view.getUint8(at + 14 + 20 + 13) & 0x02) !== 0) r.synPorts.push(pool.view.getUint16(at + 14 + 20));
  }
  if (n > 0) servers.take(pool, ids, n);
  const back = servers.fill(pool, ids, 256);
  if (back > 0) clients.take(pool, ids, back);
  return n;
}

function run(pool: PacketPool, replicas: Replica[], passes: number): void {
  for (let k = 0; k < passes; k++) for (const r of replicas) pass(pool, r);
}

const c = (r: Replica, slot: number) => r.counters[slot];

describe('ShardedClientsPort (ports in the replicas)', () => {
  it('opens its shards with handshakes, hands shards over with FINs and fresh SYNs, and accounts for every flow', () => {
    const pool = PacketPool.create({ bufferCount: 512, owner: 1 });
    const layout = shardBlockLayout(4);
    const block = new SharedArrayBuffer(layout.bytes);
    initShardBlock(block, layout);
    const a = replica(pool, block, 0, 4);
    const b = replica(pool, block, 1, 4);
    run(pool, [a, b], 3);
    expect(c(a, LocalPortCounter.INSIDE_IN)).toBe(0);

    publishShardOwners(block, layout, [0, 0, 0, 0]);
    run(pool, [a, b], 5);
    expect(c(a, LocalPortCounter.FLOWS_OPENED)).toBe(8);
    expect(c(a, LocalPortCounter.SYN_ACKS)).toBe(8);
    expect(c(a, LocalPortCounter.FLOWS_OPEN)).toBe(8);
    expect(c(a, LocalPortCounter.SHARDS_HELD)).toBe(4);
    expect(c(a, LocalPortCounter.INSIDE_IN)).toBeGreaterThan(8 + 100);
    expect(c(b, LocalPortCounter.INSIDE_IN)).toBe(0);
    expect(a.synPorts.sort()).toEqual([10000, 10000, 10000, 10000, 10000, 10000, 10000, 10000]);

    // Scale out: shards 2 and 3 move to b. a closes their 4 flows (FIN answered), b opens them from fresh source ports.
    publishShardOwners(block, layout, [0, 0, 1, 1]);
    run(pool, [a, b], 6);
    expect(c(a, LocalPortCounter.FLOWS_MOVED_OUT)).toBe(4);
    expect(c(a, LocalPortCounter.FLOWS_CLOSED)).toBe(4);
    expect(c(a, LocalPortCounter.FIN_ACKS)).toBe(4);
    expect(c(a, LocalPortCounter.FLOWS_CLOSING)).toBe(0);
    expect(c(a, LocalPortCounter.FLOWS_OPEN)).toBe(4);
    expect(c(b, LocalPortCounter.FLOWS_MOVED_IN)).toBe(4);
    expect(c(b, LocalPortCounter.SYN_ACKS)).toBe(4);
    expect(c(b, LocalPortCounter.FLOWS_OPEN)).toBe(4);
    // Generation 2 of each moved flow: one row of clients further (8 flows over 254 hosts: one row per generation).
    expect(b.synPorts).toEqual([CLIENT_PORT_BASE + 1, CLIENT_PORT_BASE + 1, CLIENT_PORT_BASE + 1, CLIENT_PORT_BASE + 1]);
    const bIn = c(b, LocalPortCounter.INSIDE_IN);
    run(pool, [a, b], 3);
    expect(c(b, LocalPortCounter.INSIDE_IN)).toBeGreaterThan(bIn);

    // Scale in: b gives its shards back.
    publishShardOwners(block, layout, [0, 0, 0, 0]);
    run(pool, [a, b], 6);
    expect(c(b, LocalPortCounter.FLOWS_MOVED_OUT)).toBe(4);
    expect(c(b, LocalPortCounter.FLOWS_CLOSED)).toBe(4);
    expect(c(b, LocalPortCounter.SHARDS_HELD)).toBe(0);
    expect(c(a, LocalPortCounter.FLOWS_MOVED_IN)).toBe(4);
    expect(c(a, LocalPortCounter.FLOWS_OPEN)).toBe(8);
    const bStill = c(b, LocalPortCounter.INSIDE_IN);
    run(pool, [a, b], 3);
    expect(c(b, LocalPortCounter.INSIDE_IN)).toBe(bStill);

    // Nobody: every flow closes.
    publishShardOwners(block, layout, [NO_MEMBER, NO_MEMBER, NO_MEMBER, NO_MEMBER]);
    run(pool, [a, b], 6);
    for (const r of [a, b]) {
      expect(c(r, LocalPortCounter.FLOWS_OPEN)).toBe(0);
      expect(c(r, LocalPortCounter.FLOWS_CLOSING)).toBe(0);
      expect(c(r, LocalPortCounter.CLOSE_TIMEOUTS)).toBe(0);
      expect(c(r, LocalPortCounter.OPEN_TIMEOUTS)).toBe(0);
      expect(c(r, LocalPortCounter.STALE_REPLIES)).toBe(0);
      // Everything sent came back or was answered: frames both ways.
      expect(c(r, LocalPortCounter.OUTSIDE_OUT)).toBe(c(r, LocalPortCounter.INSIDE_IN));
      expect(c(r, LocalPortCounter.INSIDE_OUT)).toBe(c(r, LocalPortCounter.OUTSIDE_IN));
    }
    expect(c(a, LocalPortCounter.FLOWS_OPENED) + c(b, LocalPortCounter.FLOWS_OPENED)).toBe(c(a, LocalPortCounter.FLOWS_CLOSED) + c(b, LocalPortCounter.FLOWS_CLOSED));
    for (const r of [a, b]) r.local.close(pool);
    expect(pool.leakCheck()).toEqual([]);
  });

  it('a shard whose last holder is gone waits until the host frees it, then opens its flows anew', () => {
    const pool = PacketPool.create({ bufferCount: 512, owner: 1 });
    const layout = shardBlockLayout(2);
    const block = new SharedArrayBuffer(layout.bytes);
    initShardBlock(block, layout);
    const a = replica(pool, block, 0, 2);
    publishShardOwners(block, layout, [0, 0]);
    run(pool, [a], 4);
    // a "fails" (never runs again); b is given its shards but a still holds them.
    const b = replica(pool, block, 1, 2);
    publishShardOwners(block, layout, [1, 1]);
    run(pool, [b], 3);
    expect(c(b, LocalPortCounter.INSIDE_IN)).toBe(0);
    expect(releaseShardsOf(block, layout, 0)).toBe(2);
    run(pool, [b], 4);
    expect(c(b, LocalPortCounter.FLOWS_MOVED_IN)).toBe(8);
    expect(c(b, LocalPortCounter.SYN_ACKS)).toBe(8);
    a.local.close(pool);
    b.local.close(pool);
  });

  it('never sends more than `total` in all, whatever moves between replicas', () => {
    const pool = PacketPool.create({ bufferCount: 1024, owner: 1 });
    const layout = shardBlockLayout(4);
    const block = new SharedArrayBuffer(layout.bytes);
    initShardBlock(block, layout);
    const a = replica(pool, block, 0, 4, { total: 1000 });
    const b = replica(pool, block, 1, 4, { total: 1000 });
    const owners = [[0, 0, 0, 0], [0, 0, 1, 1], [1, 1, 1, 1], [0, 1, 0, 1]];
    for (let k = 0; k < 12; k++) {
      publishShardOwners(block, layout, owners[k % owners.length]);
      run(pool, [a, b], 2);
    }
    publishShardOwners(block, layout, [0, 1, 0, 1]);
    run(pool, [a, b], 20);
    expect(c(a, LocalPortCounter.INSIDE_IN) + c(b, LocalPortCounter.INSIDE_IN)).toBe(1000);
    a.local.close(pool);
    b.local.close(pool);
    expect(pool.leakCheck()).toEqual([]);
  });

  it('paces data at its shards\' share of `rate`, and still sends the FINs of the last shard it gives up', async () => {
    const pool = PacketPool.create({ bufferCount: 512, owner: 1 });
    const layout = shardBlockLayout(4);
    const block = new SharedArrayBuffer(layout.bytes);
    initShardBlock(block, layout);
    const a = replica(pool, block, 0, 4, { rate: 4000 });
    const b = replica(pool, block, 1, 4, { rate: 4000 });
    publishShardOwners(block, layout, [0, 0, 1, 1]);
    const started = performance.now();
    while (performance.now() - started < 300) {
      run(pool, [a, b], 1);
      await new Promise((r) => setTimeout(r, 2));
    }
    const seconds = (performance.now() - started) / 1000;
    for (const r of [a, b]) {
      // 2,000 frames/s each (half the shards), with a burst of 32 and the handshakes on top.
      expect(c(r, LocalPortCounter.INSIDE_IN)).toBeLessThanOrEqual(2000 * seconds + 32 + 4);
      expect(c(r, LocalPortCounter.INSIDE_IN)).toBeGreaterThan(2000 * seconds * 0.5);
    }
    publishShardOwners(block, layout, [0, 0, 0, 0]);
    run(pool, [a, b], 6);
    expect(c(b, LocalPortCounter.FLOWS_MOVED_OUT)).toBe(4);
    expect(c(b, LocalPortCounter.FIN_ACKS)).toBe(4);
    expect(c(b, LocalPortCounter.SHARDS_HELD)).toBe(0);
    expect(c(a, LocalPortCounter.FLOWS_MOVED_IN)).toBe(4);
    a.local.close(pool);
    b.local.close(pool);
    expect(pool.leakCheck()).toEqual([]);
  });

  it('moves IPv6 TCP flows (answers matched on the low address word) and UDP flows (no handshake, closed at once)', () => {
    const v6: ClientFlowsSpec = { ...FLOWS, family: 6, clients: [0x20010db8, 1, 0, 0], hosts: 2 ** 32 - 2, service: [0x20010db8, 2, 0, 0x100] };
    const udp: ClientFlowsSpec = { ...FLOWS, proto: IpProto.UDP };
    for (const flows of [v6, udp]) {
      const pool = PacketPool.create({ bufferCount: 512, owner: 1 });
      const layout = shardBlockLayout(4);
      const block = new SharedArrayBuffer(layout.bytes);
      initShardBlock(block, layout);
      const a = replica(pool, block, 0, 4, { flows });
      const b = replica(pool, block, 1, 4, { flows });
      publishShardOwners(block, layout, [0, 0, 0, 0]);
      run(pool, [a, b], 5);
      expect(c(a, LocalPortCounter.FLOWS_OPEN)).toBe(8);
      expect(c(a, LocalPortCounter.SYN_ACKS)).toBe(flows.proto === IpProto.TCP ? 8 : 0);
      publishShardOwners(block, layout, [0, 1, 0, 1]);
      run(pool, [a, b], 6);
      expect(c(a, LocalPortCounter.FLOWS_MOVED_OUT)).toBe(4);
      expect(c(a, LocalPortCounter.FLOWS_CLOSED)).toBe(4);
      expect(c(a, LocalPortCounter.FIN_ACKS)).toBe(flows.proto === IpProto.TCP ? 4 : 0);
      expect(c(b, LocalPortCounter.FLOWS_MOVED_IN)).toBe(4);
      expect(c(b, LocalPortCounter.FLOWS_OPEN)).toBe(4);
      expect(c(b, LocalPortCounter.INSIDE_IN)).toBeGreaterThan(4);
      expect(c(a, LocalPortCounter.STALE_REPLIES) + c(b, LocalPortCounter.STALE_REPLIES)).toBe(0);
      expect(c(a, LocalPortCounter.OPEN_TIMEOUTS) + c(b, LocalPortCounter.OPEN_TIMEOUTS)).toBe(0);
      a.local.close(pool);
      b.local.close(pool);
      expect(pool.leakCheck()).toEqual([]);
    }
  });

  it('with a sink in the same replica, fills again the buffers the sink gave back', () => {
    const pool = PacketPool.create({ bufferCount: 1024, owner: 1 });
    const layout = shardBlockLayout(4);
    const block = new SharedArrayBuffer(layout.bytes);
    initShardBlock(block, layout);
    const counters = new Float64Array(LOCAL_PORT_COUNTERS);
    const local = openLocalPorts({ inside: { type: 'clients', ...FLOWS, proto: IpProto.UDP, shards: 4, member: 0, block }, outside: { type: 'sink' } }, counters);
    publishShardOwners(block, layout, [0, 0, 0, 0]);
    const ids = new Uint32Array(256);
    const [clients, sink] = local.ports;
    for (let k = 0; k < 3; k++) sink.take(pool, ids, clients.fill(pool, ids, 256));
    const allocs = pool.stats().allocs;
    for (let k = 0; k < 20; k++) sink.take(pool, ids, clients.fill(pool, ids, 256));
    expect(counters[LocalPortCounter.OUTSIDE_OUT]).toBe(23 * 256);
    // Recycled: no buffer from the pool after the first rounds.
    expect(pool.stats().allocs).toBe(allocs);
    local.close(pool);
    expect(pool.leakCheck()).toEqual([]);
  });

  it('sends each flow\'s data frame byte for byte, from the source port of its generation after a move, one counted copy in each', () => {
    const pool = PacketPool.create({ bufferCount: 512, owner: 1 });
    const layout = shardBlockLayout(4);
    const block = new SharedArrayBuffer(layout.bytes);
    initShardBlock(block, layout);
    const flows: ClientFlowsSpec = { ...FLOWS, proto: IpProto.UDP, packetSize: 200 };
    const a = replica(pool, block, 0, 4, { flows });
    const b = replica(pool, block, 1, 4, { flows });
    const expected = (f: number, generation: number): number[] => {
      const view = new DataView(new ArrayBuffer(2048));
      return Array.from(new Uint8Array(view.buffer, 0, writeClientFrame(flows, view, 0, f, generation, FlowFrameKind.DATA)));
    };
    /** One fill of `r`'s clients: each frame's bytes, by its flow (source host − 1), then freed. */
    const sent = (r: Replica): Map<number, number[]> => {
      const ids = new Uint32Array(256);
      const n = r.local.ports[0].fill(pool, ids, 64);
      const byFlow = new Map<number, number[]>();
      for (let i = 0; i < n; i++) {
        const at = pool.dataOffset(ids[i]);
        const bytes = Array.from(pool.bytes.subarray(at, at + pool.meta.length[ids[i]]));
        byFlow.set(pool.view.getUint8(at + 14 + 15) - 1, bytes);
      }
      pool.freeBatch(ids, n);
      return byFlow;
    };
    publishShardOwners(block, layout, [0, 0, 0, 0]);
    const before = pool.stats();
    const first = sent(a);
    expect([...first.keys()].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    for (const [f, bytes] of first) expect(bytes).toEqual(expected(f, 0));
    expect(pool.stats().copiesIn - before.copiesIn).toBe(64);
    expect(pool.stats().bytesIn - before.bytesIn).toBe(64 * 200);
    // Shards 1 and 3 move to b: their flows open there in generation 1, with its source port.
    publishShardOwners(block, layout, [0, 1, 0, 1]);
    sent(a);
    const moved = sent(b);
    expect([...moved.keys()].sort()).toEqual([1, 3, 5, 7]);
    for (const [f, bytes] of moved) expect(bytes).toEqual(expected(f, 1));
    for (const [f, bytes] of sent(a)) expect(bytes).toEqual(expected(f, 0));
    a.local.close(pool);
    b.local.close(pool);
    expect(pool.leakCheck()).toEqual([]);
  });

  it('refuses a block whose shard count is not the one it was given, and takes nothing from it', () => {
    const pool = PacketPool.create({ bufferCount: 256, owner: 1 });
    const layout = shardBlockLayout(4);
    const block = new SharedArrayBuffer(layout.bytes);
    initShardBlock(block, layout);
    const a = replica(pool, block, 0, 4);
    new Int32Array(block)[SHARD_COUNT] = 4000;
    publishShardOwners(block, layout, [0, 0, 0, 0]);
    run(pool, [a], 3);
    expect(c(a, LocalPortCounter.BLOCK_REJECTED)).toBe(1);
    expect(c(a, LocalPortCounter.INSIDE_IN)).toBe(0);
    expect(() => replica(pool, new SharedArrayBuffer(8), 0, 4)).toThrow(/smaller/);
    a.local.close(pool);
  });
});
