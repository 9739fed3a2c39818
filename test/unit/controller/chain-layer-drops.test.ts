import { describe, expect, it } from 'vitest';
import type { ChainRuntime } from '../../../src/controller/chain-runtime.ts';
import { chainLayerDrops } from '../../../src/controller/controller-metrics.ts';
import { HOST_DROP_LIST } from '../../../src/dataplane/host-drop-reason.ts';
import { RING_DROP_LIST } from '../../../src/virtio/ring-drop-reason.ts';
import { newCounters } from '../../../src/virtio/virtio-net-device.ts';

function instance(id: string, parts?: string[]) {
  const eth0 = { rxCounters: newCounters(), txCounters: newCounters() };
  const eth1 = { rxCounters: newCounters(), txCounters: newCounters() };
  return { id, host: { eth0, eth1 }, manifest: { parts: parts?.map((name) => ({ name })) } };
}

function runtime(name: string, stages: { name: string; live: ReturnType<typeof instance>[] }[], ends: { inside?: object; outside?: object } = {}) {
  const end = (drops?: object) => ({ port: {}, stats: () => ({}), close: async () => undefined, ...(drops === undefined ? {} : { drops: () => drops }) });
  return {
    name,
    dataPlane: { drops: { noInstance: 1, instanceGone: 2, ownership: 3, awaitingHeir: 4, stateLost: 5, unpinned: 9 }, stages },
    ends: { inside: end(ends.inside), outside: end(ends.outside) },
    spec: { spec: { ingress: { type: 'vxlan' }, egress: { type: 'sink' } } },
  } as unknown as ChainRuntime;
}

describe('chainLayerDrops', () => {
  it('gives every host and ring reason, per instance and side, and the ends that count drops', () => {
    const fw = instance('fw-0');
    fw.host.eth0.rxCounters.dropsNoHeadroom = 4;
    fw.host.eth1.txCounters.dropsBadDescriptor = 5;
    const rows = chainLayerDrops([runtime('edge', [{ name: 'fw', live: [fw] }], { inside: { port: { bad_flags: 6 }, gateway: { no_route: 7 } } })]);
    expect(rows.filter((r) => r.layer === 'host').map((r) => [r.reason, r.value])).toEqual(HOST_DROP_LIST.names.map((n, i) => [n, i + 1]));
    const ring = rows.filter((r) => r.layer === 'ring');
    expect(ring).toHaveLength(2 * RING_DROP_LIST.count);
    expect(ring.find((r) => r.side === 'inside' && r.reason === 'rx_no_headroom')).toMatchObject({ chain: 'edge', function: 'fw', instance: 'edge/fw-0', value: 4 });
    expect(ring.find((r) => r.side === 'outside' && r.reason === 'tx_bad_descriptor')?.value).toBe(5);
    expect(rows.filter((r) => r.layer === 'port')).toEqual([{ layer: 'port', chain: 'edge', side: 'inside', port: 'vxlan', reason: 'bad_flags', value: 6 }]);
    expect(rows.filter((r) => r.layer === 'gateway')).toEqual([{ layer: 'gateway', chain: 'edge', side: 'inside', port: 'vxlan', reason: 'no_route', value: 7 }]);
  });

  it("counts a fused replica's inside ring with its first function and its outside ring with its last", () => {
    const replica = instance('fused-0', ['fw', 'lb', 'nat']);
    replica.host.eth0.rxCounters.dropsRingFull = 1;
    replica.host.eth1.rxCounters.dropsRingFull = 2;
    const ring = chainLayerDrops([runtime('edge', [{ name: 'fused', live: [replica] }])]).filter((r) => r.layer === 'ring' && r.reason === 'rx_ring_full');
    expect(ring.map((r) => [r.function, r.instance, r.side, r.value])).toEqual([
      ['fw', 'edge/fused-0/fw', 'inside', 1],
      ['nat', 'edge/fused-0/nat', 'outside', 2],
    ]);
  });
});
