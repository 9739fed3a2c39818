import { afterEach, describe, expect, it, vi } from 'vitest';
import { natShardsOf, ReplicaVxlanEnds, VXLAN_DRAIN_QUIET_HANDOFFS, VXLAN_DRAIN_QUIET_MS, vxlanReplicaMembers } from '../../../src/controller/replica-vxlan-ends.ts';
import { placeEnds } from '../../../src/controller/replica-ends.ts';
import { LOCAL_PORT_COUNTERS, LocalPortCounter } from '../../../src/dataplane/ports/local-ports.ts';
import { VXLAN_PORT_COUNTERS, VxlanBlock } from '../../../src/dataplane/ports/vxlan-port-counters.ts';
import { handoffRingAt } from '../../../src/dataplane/ports/vxlan-replica-area.ts';
import type { StageInstance } from '../../../src/dataplane/stage.ts';
import { HeapMemory } from '../../../src/memory/shared-memory.ts';
import { parseVxlanPortConfig } from '../../../src/ports/vxlan.ts';
import type { ChainSpec } from '../../../src/spec/chain-spec.ts';

const settings = {
  inside: parseVxlanPortConfig({ listen: { address: '198.18.100.1' }, gateway: { addresses: ['198.18.1.1/24'] }, peers: [{ name: 'client', vni: 100, remote: '198.18.100.2', subnets: ['198.18.1.0/24'] }] }),
  outside: parseVxlanPortConfig({ listen: { address: '198.18.101.1' }, gateway: { addresses: ['198.18.3.1/24'] }, peers: [{ name: 'server', vni: 200, remote: '198.18.101.2', subnets: ['198.18.3.0/24'] }] }),
};
const rules = { protocols: [6], destinations: [[0xc6120264, 0xffffffff]] as Array<[number, number]>, ports: [] };

/** What the ends read of an instance: its id, shard and port counters. */
function instance(id: string, shard: number | undefined): StageInstance {
  return { id, shard, portCounters: new Float64Array(LOCAL_PORT_COUNTERS), state: 'active' } as unknown as StageInstance;
}

describe('ReplicaVxlanEnds: a fused chain\'s VXLAN ends run by its replicas', () => {
  afterEach(() => vi.useRealTimers());

  it('steers the outside by the NAT\'s port shards (inner destination without a NAT) and gives each replica both ends of one member, its blocks, the classifier and the trace block', () => {
    const memory = new HeapMemory();
    const withNat = new ReplicaVxlanEnds(settings, memory, 'why', { from: 1024, to: 65535, count: 8 }, rules, vxlanReplicaMembers(4));
    expect(withNat.groups.inside.key).toEqual({ by: 'inner-source' });
    expect(withNat.groups.outside.key).toEqual({ by: 'port-shard', base: 1024, shardSize: 8064, shards: 8 });
    expect(new ReplicaVxlanEnds(settings, memory, 'why', undefined).groups.outside.key).toEqual({ by: 'inner-destination' });

    const m = withNat.reserveMember();
    const ports = withNat.portsFor(m);
    expect(ports.classifier).toBe(rules);
    expect(ports.trace).toBe(withNat.traceBlock);
    for (const end of [ports.inside, ports.outside]) {
      if (end.type !== 'vxlan') throw new Error('not a vxlan end');
      expect(end.replicas?.member).toBe(m);
      expect(end.counters.byteLength).toBe(VXLAN_PORT_COUNTERS * 8);
    }
    expect(ports.inside.type === 'vxlan' && ports.inside.settings).toBe(settings.inside);
    // Member slots are bounded (each group's area holds a handoff ring per pair of members).
    expect(vxlanReplicaMembers(1)).toBe(4);
    expect(vxlanReplicaMembers(100)).toBe(16);
    for (let k = 1; k < vxlanReplicaMembers(4); k++) withNat.reserveMember();
    expect(() => withNat.reserveMember()).toThrow(/member slots, all taken/);
  });

  it('joins replicas with their shard, retires a leaving one and holds its drain while handoffs to it go on, then keeps its totals when it is gone', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const memory = new HeapMemory();
    const ends = new ReplicaVxlanEnds(settings, memory, 'why', { from: 1024, to: 65535, count: 4 }, undefined, 6);
    const [a, b] = [ends.reserveMember(), ends.reserveMember()];
    const blocks = [a, b].map((m) => {
      const p = ends.portsFor(m);
      return [p.inside, p.outside].map((e) => (e.type === 'vxlan' ? new Float64Array(e.counters) : new Float64Array(0)));
    });
    const ia = instance('fused-0', 0);
    const ib = instance('fused-1', 1);
    ends.bind(a, ia);
    ends.bind(b, ib);
    expect([...ends.groups.inside.members].sort()).toEqual([a, b]);
    expect(ends.groups.outside.steeringKey()).toMatchObject({ by: 'port-shard' });
    expect(ends.shardMismatches).toBe(0);

    blocks[0][0][VxlanBlock.ENTERED] = 10;
    blocks[1][0][VxlanBlock.ENTERED] = 5;
    blocks[0][0][VxlanBlock.MISDIRECTED] = 2;
    ia.portCounters![LocalPortCounter.INSIDE_IN] = 9;
    ib.portCounters![LocalPortCounter.INSIDE_IN] = 4;
    expect(ends.end('inside').stats()).toMatchObject({ framesIn: 15, misdirected: 2, replicas: 2 });
    // Figures that never moved stay out of describe's line.
    expect(ends.end('inside').stats()).not.toHaveProperty('echoRepliesSent');
    expect(ends.traffic().enteredInside).toBe(13);

    void ends.handOff('fused-0');
    expect(ends.isLeaving('fused-0')).toBe(true);
    expect(ends.groups.inside.bucketOwners().every((o) => o === b)).toBe(true);
    // Handoffs to it in a window keep it draining; a window with at most a few ends the drain.
    const ring = new Int32Array(ends.groups.inside.area);
    const hand = (n: number) => Atomics.add(ring, handoffRingAt(ends.groups.inside.layout, b, a), n);
    expect(ends.holds('fused-0')).toBe(true);
    hand(VXLAN_DRAIN_QUIET_HANDOFFS + 1);
    vi.advanceTimersByTime(VXLAN_DRAIN_QUIET_MS);
    expect(ends.holds('fused-0')).toBe(true);
    hand(VXLAN_DRAIN_QUIET_HANDOFFS);
    vi.advanceTimersByTime(VXLAN_DRAIN_QUIET_MS - 1);
    expect(ends.holds('fused-0')).toBe(true);
    vi.advanceTimersByTime(1);
    // Replies on its own NAT shard reach its socket directly: they hold it as well.
    blocks[0][1][VxlanBlock.RECEIVED] += VXLAN_DRAIN_QUIET_HANDOFFS + 1;
    expect(ends.holds('fused-0')).toBe(true);
    blocks[0][1][VxlanBlock.RECEIVED] += 2;
    hand(2);
    vi.advanceTimersByTime(VXLAN_DRAIN_QUIET_MS);
    expect(ends.holds('fused-0')).toBe(false);
    expect(ends.holds('fused-1')).toBe(false);

    ends.gone('fused-0');
    expect(ends.groups.inside.members).toEqual([b]);
    expect(ends.groups.outside.members).toEqual([b]);
    blocks[1][0][VxlanBlock.ENTERED] = 7;
    expect(ends.end('inside').stats()).toMatchObject({ framesIn: 17, misdirected: 2, replicas: 1 });
    expect(ends.traffic().enteredInside).toBe(13);
    // The member number is free again.
    expect(ends.reserveMember()).toBe(a);
    ends.release();
  });

  it('steers by NAT port shards only where the range can be cut into them', () => {
    expect(natShardsOf({ from: 1024, to: 65535 }, 8)).toEqual({ from: 1024, to: 65535, count: 8 });
    expect(natShardsOf({ from: 5000, to: 5003 }, 8)).toBeUndefined();
    expect(natShardsOf({ from: 1024, to: 65535 }, 512)).toBeUndefined();
    expect(natShardsOf({ from: 1024, to: 65535 }, undefined)).toBeUndefined();
    expect(natShardsOf(undefined, 4)).toBeUndefined();
  });

  it('is where placeEnds puts a fused vxlan → vxlan chain, unless the controller has its own vxlan factory or no addon', () => {
    const spec = { spec: { ingress: { type: 'vxlan' }, egress: { type: 'vxlan' }, functions: [] } } as unknown as ChainSpec;
    const fused = { placement: 'fused' as const, reason: 'spec.placement: fused' };
    expect(placeEnds(spec, fused, () => false, true)).toMatchObject({ where: 'replicas' });
    expect(placeEnds(spec, fused, (t) => t === 'vxlan', true)).toMatchObject({ where: 'host', reason: expect.stringMatching(/its own end factory/) });
    expect(placeEnds(spec, fused, () => false, false)).toMatchObject({ where: 'host', reason: expect.stringMatching(/native addon/) });
    expect(placeEnds(spec, { placement: 'isolated', reason: '' }, () => false, true)).toMatchObject({ where: 'host' });
    const mixed = { spec: { ingress: { type: 'vxlan' }, egress: { type: 'pcap' }, functions: [] } } as unknown as ChainSpec;
    expect(placeEnds(mixed, fused, () => false, true)).toMatchObject({ where: 'host', reason: expect.stringMatching(/vxlan → pcap/) });
  });
});
