import { describe, expect, it } from 'vitest';
import type { ChainRuntime } from '../../../src/controller/chain-runtime.ts';
import { chainLayerDrops } from '../../../src/controller/controller-metrics.ts';
import { HOST_DROP_LIST, HostDrop } from '../../../src/dataplane/host-drop-reason.ts';
import { RING_DROP_LIST } from '../../../src/virtio/ring-drop-reason.ts';
import { DIRECT_LINK_COUNTER_LIST, DirectLinkCounter } from '../../../src/dataplane/links/direct-link-counters.ts';
import { newCounters } from '../../../src/virtio/virtio-net-device.ts';

function instance(id: string, parts?: string[], linkStats?: Float64Array) {
  const eth0 = { rxCounters: newCounters(), txCounters: newCounters() };
  const eth1 = { rxCounters: newCounters(), txCounters: newCounters() };
  return { id, host: { eth0, eth1 }, manifest: { parts: parts?.map((name) => ({ name })) }, linkStats };
}

interface FakeStage {
  name: string;
  live: ReturnType<typeof instance>[];
  hostDrops: Float64Array;
}

const stage = (name: string, live: ReturnType<typeof instance>[]): FakeStage => ({ name, live, hostDrops: new Float64Array(HOST_DROP_LIST.count) });

function runtime(name: string, stages: FakeStage[], ends: { inside?: object; outside?: object } = {}, functions: object[] = stages.map((s) => ({ spec: { name: s.name } }))) {
  const end = (drops?: object) => ({ port: {}, stats: () => ({}), close: async () => undefined, ...(drops === undefined ? {} : { drops: () => drops }) });
  return {
    name,
    dataPlane: { stages },
    functions,
    ends: { inside: end(ends.inside), outside: end(ends.outside) },
    spec: { spec: { ingress: { type: 'vxlan' }, egress: { type: 'sink' } } },
  } as unknown as ChainRuntime;
}

describe('chainLayerDrops', () => {
  it('gives every host and ring reason, per instance and side, and the ends that count drops', () => {
    const fw = instance('fw-0');
    fw.host.eth0.rxCounters.dropsNoHeadroom = 4;
    fw.host.eth1.txCounters.dropsBadDescriptor = 5;
    const fwStage = stage('fw', [fw]);
    const natStage = stage('nat', []);
    fwStage.hostDrops.forEach((_, i) => (fwStage.hostDrops[i] = i + 1));
    natStage.hostDrops[HostDrop.NO_INSTANCE] = 8;
    const rows = chainLayerDrops([runtime('edge', [fwStage, natStage], { inside: { port: { bad_flags: 6 }, gateway: { no_route: 7 } } })]);
    const host = rows.filter((r) => r.layer === 'host');
    expect(host.filter((r) => r.function === 'fw').map((r) => [r.reason, r.value])).toEqual(HOST_DROP_LIST.names.map((n, i) => [n, i + 1]));
    expect(host.filter((r) => r.function === 'nat' && r.value > 0).map((r) => [r.reason, r.value])).toEqual([['no_instance', 8]]);
    const ring = rows.filter((r) => r.layer === 'ring');
    expect(ring).toHaveLength(2 * RING_DROP_LIST.count);
    expect(ring.find((r) => r.side === 'inside' && r.reason === 'rx_no_headroom')).toMatchObject({ chain: 'edge', function: 'fw', instance: 'edge/fw-0', value: 4 });
    expect(ring.find((r) => r.side === 'outside' && r.reason === 'tx_bad_descriptor')?.value).toBe(5);
    expect(rows.filter((r) => r.layer === 'port')).toEqual([{ layer: 'port', chain: 'edge', side: 'inside', port: 'vxlan', reason: 'bad_flags', value: 6 }]);
    expect(rows.filter((r) => r.layer === 'gateway')).toEqual([{ layer: 'gateway', chain: 'edge', side: 'inside', port: 'vxlan', reason: 'no_route', value: 7 }]);
  });

  it("counts a fused chain's host drops and its replica's inside ring with its first function, the outside ring with its last", () => {
    const replica = instance('fused-0', ['fw', 'lb', 'nat']);
    replica.host.eth0.rxCounters.dropsRingFull = 1;
    replica.host.eth1.rxCounters.dropsRingFull = 2;
    const unit = stage('fused', [replica]);
    unit.hostDrops[HostDrop.INSTANCE_GONE] = 3;
    const rows = chainLayerDrops([runtime('edge', [unit], {}, [{ spec: { name: 'fused' }, parts: [{ name: 'fw' }, { name: 'lb' }, { name: 'nat' }] }])]);
    expect(rows.find((r) => r.layer === 'host' && r.reason === 'instance_gone')).toMatchObject({ function: 'fw', value: 3 });
    const ring = rows.filter((r) => r.layer === 'ring' && r.reason === 'rx_ring_full');
    expect(ring.map((r) => [r.function, r.instance, r.side, r.value])).toEqual([
      ['fw', 'edge/fused-0/fw', 'inside', 1],
      ['nat', 'edge/fused-0/nat', 'outside', 2],
    ]);
  });

  it('gives every direct-link drop reason of each instance with direct links, and none for the others', () => {
    const stats = new Float64Array(DIRECT_LINK_COUNTER_LIST.count);
    stats[DirectLinkCounter.PEER_FULL] = 3;
    stats[DirectLinkCounter.NO_PEER] = 2;
    stats[DirectLinkCounter.SENT] = 99;
    const lb = instance('lb-0', undefined, stats);
    const rows = chainLayerDrops([runtime('edge', [stage('fw', [instance('fw-0')]), stage('lb', [lb])], {}, [{ spec: { name: 'fw' } }, { spec: { name: 'lb' } }])]);
    const link = rows.filter((r) => r.layer === 'link');
    expect(link.map((r) => r.reason)).toEqual(DIRECT_LINK_COUNTER_LIST.dropNames);
    expect(link.find((r) => r.reason === 'peer_full')).toMatchObject({ chain: 'edge', function: 'lb', instance: 'edge/lb-0', value: 3 });
    expect(link.find((r) => r.reason === 'no_peer')?.value).toBe(2);
    expect(link.filter((r) => r.reason !== 'peer_full' && r.reason !== 'no_peer').every((r) => r.value === 0)).toBe(true);
  });
});
