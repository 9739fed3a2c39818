import { describe, expect, it } from 'vitest';
import { Stage, StageInstance } from '../../../src/dataplane/stage.ts';
import type { ImageManifest } from '../../../src/image/image-manifest.ts';
import type { PacketPool } from '../../../src/pool/packet-pool.ts';
import type { InstanceHost } from '../../../src/runtime/instance-host.ts';
import { Rng } from '../../support/rng.ts';

/** The constructor reads only `host.pool` and `host.bootMs`. */
function fakeHost(bootMs = 25): InstanceHost {
  const pool = { tag: 'device-owner pool' } as unknown as PacketPool;
  return { pool, bootMs } as unknown as InstanceHost;
}

const manifest = { name: 'fw' } as unknown as ImageManifest;

function addInstance(stage: Stage, opts: { fifo?: number; shard?: number } = {}): StageInstance {
  const inst = new StageInstance(stage.nextSlot, stage.nextId(), fakeHost(), manifest, '/store/abc', opts.fifo ?? 8, opts.shard);
  stage.add(inst);
  return inst;
}

/** Slot picked for each of `n` seeded random hashes. */
function picks(stage: Stage, n: number, seed = 7): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => stage.pick(rng.next()));
}

describe('StageInstance', () => {
  it('takes its pool from the host, starts active with two FIFOs, and dates its boot start', () => {
    const host = fakeHost(40);
    const before = Date.now();
    const counters = new Float64Array(4);
    const inst = new StageInstance(3, 'fw-3', host, manifest, '/store/img', 16, 2, counters);
    const after = Date.now();
    expect(inst.slot).toBe(3);
    expect(inst.id).toBe('fw-3');
    expect(inst.host).toBe(host);
    expect(inst.pool).toBe(host.pool);
    expect(inst.manifest).toBe(manifest);
    expect(inst.imagePath).toBe('/store/img');
    expect(inst.shard).toBe(2);
    expect(inst.portCounters).toBe(counters);
    expect(inst.state).toBe('active');
    expect(inst.reason).toBe('');
    expect([inst.pins, inst.flows]).toEqual([0, 0]);
    expect(inst.toEth0).not.toBe(inst.toEth1);
    expect([inst.toEth0.ids.length, inst.toEth1.ids.length]).toEqual([16, 16]);
    expect(inst.startedAt).toBeGreaterThanOrEqual(before - 40);
    expect(inst.startedAt).toBeLessThanOrEqual(after - 40);
  });

  it('ignores a boot time that is not finite', () => {
    const before = Date.now();
    const inst = new StageInstance(0, 'fw-0', fakeHost(Number.NaN), manifest, '/x', 4);
    expect(inst.startedAt).toBeGreaterThanOrEqual(before);
    expect(inst.shard).toBeUndefined();
    expect(inst.portCounters).toBeUndefined();
  });

  it('reports its backlog per side as the FIFO fill ratio', () => {
    const inst = new StageInstance(0, 'fw-0', fakeHost(), manifest, '/x', 8);
    expect([inst.backlog(0), inst.backlog(1)]).toEqual([0, 0]);
    for (let i = 0; i < 6; i++) inst.toEth0.pushOne(i);
    inst.toEth1.pushOne(9);
    expect(inst.backlog(0)).toBe(0.75);
    expect(inst.backlog(1)).toBe(0.125);
    inst.toEth0.shift(6);
    expect(inst.backlog(0)).toBe(0);
  });
});

describe('Stage', () => {
  it('numbers ids and slots, never reusing them', () => {
    const stage = new Stage('nat', 2);
    expect(stage.name).toBe('nat');
    expect(stage.index).toBe(2);
    expect(stage.nextSlot).toBe(0);
    const a = addInstance(stage);
    const b = addInstance(stage);
    expect([a.slot, a.id, b.slot, b.id]).toEqual([0, 'nat-0', 1, 'nat-1']);
    stage.setState(a, 'gone', 'scale-in');
    const c = addInstance(stage);
    expect([c.slot, c.id]).toEqual([2, 'nat-2']);
    // An id taken for a boot that failed is not handed out again.
    expect(stage.nextId()).toBe('nat-3');
    expect(stage.nextId()).toBe('nat-4');
    expect(stage.nextSlot).toBe(3);
    expect(stage.bySlot).toEqual([a, b, c]);
  });

  it('picks nothing (-1) while no instance is active', () => {
    const stage = new Stage('fw', 0);
    expect(stage.activeCount()).toBe(0);
    expect(stage.pick(12345)).toBe(-1);
    const a = addInstance(stage);
    expect(stage.pick(12345)).toBe(a.slot);
    stage.setState(a, 'draining', 'rolling update');
    expect(stage.activeCount()).toBe(0);
    expect(stage.pick(12345)).toBe(-1);
    expect(stage.live).toEqual([a]);
  });

  it('spreads new flows evenly over the active instances only', () => {
    const stage = new Stage('lb', 1);
    const insts = [addInstance(stage), addInstance(stage), addInstance(stage)];
    expect(stage.activeCount()).toBe(3);
    const n = 30_000;
    const counts = new Map<number, number>();
    for (const s of picks(stage, n)) counts.set(s, (counts.get(s) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual([0, 1, 2]);
    for (const c of counts.values()) {
      expect(c / n).toBeGreaterThan(0.28);
      expect(c / n).toBeLessThan(0.39);
    }
    // Any u32 hash, including those with the top bit set, picks an active slot.
    for (const h of [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, -1]) expect([0, 1, 2]).toContain(stage.pick(h));

    stage.setState(insts[1], 'draining', 'scale-in');
    expect(insts[1].state).toBe('draining');
    expect(insts[1].reason).toBe('scale-in');
    expect(stage.activeCount()).toBe(2);
    expect(stage.live).toEqual(insts); // draining instances stay live (they keep their flows)
    const after = picks(stage, n);
    expect(after).not.toContain(1);
    expect(new Set(after)).toEqual(new Set([0, 2]));
  });

  it('moves few new flows between instances that stay when one stops taking new flows (Maglev)', () => {
    const stage = new Stage('fw', 0);
    const insts = [addInstance(stage), addInstance(stage), addInstance(stage), addInstance(stage)];
    const n = 20_000;
    const before = picks(stage, n, 99);
    stage.setState(insts[2], 'draining', 'scale-in');
    const after = picks(stage, n, 99);
    let stayed = 0;
    let kept = 0;
    for (let i = 0; i < n; i++) {
      if (before[i] === 2) continue;
      stayed++;
      if (after[i] === before[i]) kept++;
    }
    // Maglev moves only a few percent of the entries of the remaining backends.
    expect(kept / stayed).toBeGreaterThan(0.9);
    // Back to active: the table is rebuilt from the same names, so the same picks.
    stage.setState(insts[2], 'active', '');
    expect(picks(stage, n, 99)).toEqual(before);
  });

  it('drops gone instances from live and from the table, keeping them by slot', () => {
    const stage = new Stage('fw', 0);
    const [a, b, c] = [addInstance(stage), addInstance(stage), addInstance(stage)];
    stage.setState(b, 'gone', 'failed: crash');
    expect(stage.live).toEqual([a, c]);
    expect(stage.bySlot[b.slot]).toBe(b);
    expect(b.state).toBe('gone');
    expect(stage.activeCount()).toBe(2);
    expect(picks(stage, 5000)).not.toContain(b.slot);
    // Live stays in slot order after more changes.
    const d = addInstance(stage);
    stage.setState(a, 'draining', 'x');
    expect(stage.live.map((i) => i.slot)).toEqual([0, 2, 3]);
    expect(new Set(picks(stage, 5000))).toEqual(new Set([c.slot, d.slot]));
    stage.setState(a, 'gone', 'drained');
    stage.setState(c, 'gone', 'drained');
    expect(stage.live).toEqual([d]);
    expect(new Set(picks(stage, 1000))).toEqual(new Set([d.slot]));
  });

  it('reserves the lowest free shard, gives it back on release or when its instance is gone', () => {
    const stage = new Stage('nat', 0);
    expect(stage.reserveShard(3)).toBe(0);
    expect(stage.reserveShard(3)).toBe(1);
    expect(stage.reserveShard(3)).toBe(2);
    expect(stage.reserveShard(3)).toBeUndefined();
    expect(stage.reserveShard(4)).toBe(3);
    stage.releaseShard(1);
    expect(stage.reserveShard(4)).toBe(1);
    expect(stage.reserveShard(4)).toBeUndefined();
    expect(stage.reserveShard(0)).toBeUndefined();

    // Instances holding shards 0 and 2.
    const s0 = addInstance(stage, { shard: 0 });
    const s2 = addInstance(stage, { shard: 2 });
    stage.setState(s0, 'draining', 'scale-in');
    expect(stage.reserveShard(4)).toBeUndefined(); // draining still holds its shard
    stage.setState(s2, 'gone', 'failed');
    expect(stage.reserveShard(4)).toBe(2);
    stage.setState(s0, 'gone', 'drained');
    expect(stage.reserveShard(4)).toBe(0);
    // An instance without a shard leaving releases nothing.
    const plain = addInstance(stage);
    stage.setState(plain, 'gone', 'x');
    expect(stage.reserveShard(4)).toBeUndefined();
  });

  it('reports the fewest free FIFO places per side over live instances', () => {
    const stage = new Stage('fw', 0);
    expect(stage.minFree(0)).toBe(1 << 30); // nothing live: no limit
    const a = addInstance(stage, { fifo: 8 });
    const b = addInstance(stage, { fifo: 8 });
    for (let i = 0; i < 5; i++) b.toEth0.pushOne(i);
    for (let i = 0; i < 2; i++) a.toEth1.pushOne(i);
    expect(stage.minFree(0)).toBe(3);
    expect(stage.minFree(1)).toBe(6);
    // A draining instance still counts (its pinned flows still reach it); a gone one not.
    stage.setState(b, 'draining', 'x');
    expect(stage.minFree(0)).toBe(3);
    stage.setState(b, 'gone', 'x');
    expect(stage.minFree(0)).toBe(8);
  });
});
