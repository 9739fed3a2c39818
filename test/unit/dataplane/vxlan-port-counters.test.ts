import { describe, expect, it } from 'vitest';
import { GatewayEdge } from '../../../src/gateway/gateway-edge.ts';
import { parseGatewayAddress } from '../../../src/gateway/gateway-config.ts';
import { GATEWAY_DROP_COUNT, GATEWAY_DROP_NAMES, GatewayDrop } from '../../../src/gateway/gateway-drop-reason.ts';
import { openLocalPorts, LOCAL_PORT_COUNTERS } from '../../../src/dataplane/ports/local-ports.ts';
import { GATEWAY_COUNTER_KEYS, GATEWAY_COUNTERS_AT, GATEWAY_DROPS_AT, readVxlanPortCounters, VXLAN_DROPS_AT, VXLAN_PORT_COUNTERS, VxlanBlock } from '../../../src/dataplane/ports/vxlan-port-counters.ts';
import { VXLAN_DROP_COUNT, VxlanDrop } from '../../../src/dataplane/ports/vxlan-drop-reason.ts';
import { FailedPreconditionError } from '../../../src/errors/catalog.ts';
import { parseVxlanPortConfig } from '../../../src/ports/vxlan.ts';

describe('VXLAN port counter block', () => {
  it('has a slot for every gateway counter, VXLAN drop and gateway drop, none shared', () => {
    const edge = new GatewayEdge({ addresses: [parseGatewayAddress('198.18.1.1/24')!], mac: [0x0200, 0xc6120101], peerSubnets: [[]] }, { emit() {}, release() {}, discard() {} });
    expect([...GATEWAY_COUNTER_KEYS].sort()).toEqual(Object.keys(edge.counters).sort());
    expect(GATEWAY_COUNTERS_AT).toBe(Object.keys(VxlanBlock).length);
    expect(VXLAN_DROPS_AT).toBe(GATEWAY_COUNTERS_AT + GATEWAY_COUNTER_KEYS.length);
    expect(GATEWAY_DROPS_AT).toBe(VXLAN_DROPS_AT + VXLAN_DROP_COUNT);
    expect(VXLAN_PORT_COUNTERS).toBe(GATEWAY_DROPS_AT + GATEWAY_DROP_COUNT);
  });

  it('reads what was written by name, every reason present', () => {
    const block = new Float64Array(VXLAN_PORT_COUNTERS);
    block[VxlanBlock.RECEIVED] = 7;
    block[VxlanBlock.LOCAL_PORT] = 4789;
    block[GATEWAY_COUNTERS_AT + GATEWAY_COUNTER_KEYS.indexOf('echoRepliesSent')] = 3;
    block[VXLAN_DROPS_AT + VxlanDrop.UNKNOWN_VNI] = 2;
    block[GATEWAY_DROPS_AT + GatewayDrop.TTL_EXCEEDED] = 5;
    const r = readVxlanPortCounters(block);
    expect(r).toMatchObject({ received: 7, localPort: 4789, sent: 0 });
    expect(r.gateway.echoRepliesSent).toBe(3);
    expect(r.drops.port.unknown_vni).toBe(2);
    expect(r.drops.gateway[GATEWAY_DROP_NAMES[GatewayDrop.TTL_EXCEEDED]]).toBe(5);
    expect(Object.keys(r.drops.gateway)).toHaveLength(GATEWAY_DROP_COUNT);
    expect(() => readVxlanPortCounters(new Float64Array(VXLAN_PORT_COUNTERS - 1))).toThrow(RangeError);
  });

  it('a VXLAN end opened in an instance without the pool memory is refused before any socket is bound', () => {
    const settings = parseVxlanPortConfig({ listen: { address: '198.18.0.1' }, gateway: { addresses: ['198.18.1.1/24'] }, peers: [{ name: 'c', vni: 1, remote: '198.18.0.2', subnets: ['198.18.1.0/24'] }] });
    const spec = { type: 'vxlan' as const, settings, counters: new SharedArrayBuffer(VXLAN_PORT_COUNTERS * 8) };
    expect(() => openLocalPorts({ inside: spec, outside: { type: 'sink' } }, new Float64Array(LOCAL_PORT_COUNTERS))).toThrow(FailedPreconditionError);
  });
});

describe('local ports: the chain classifier in front of the inside port', () => {
  it('passes what its rules admit, frees the rest and counts it in shared memory', async () => {
    const { PacketPool } = await import('../../../src/pool/packet-pool.ts');
    const { buildFrame } = await import('../../../src/traffic/frame-builder.ts');
    const { IpProto } = await import('../../../src/packet/ipv4.ts');
    const { LocalPortCounter } = await import('../../../src/dataplane/ports/local-ports.ts');
    const tcp = buildFrame({ proto: IpProto.TCP, srcIp: 0xc6120102, dstIp: 0xc612020a, srcPort: 40000, dstPort: 80, minFrameLength: 60 });
    const udp = buildFrame({ proto: IpProto.UDP, srcIp: 0xc6120102, dstIp: 0xc612020a, srcPort: 40000, dstPort: 53, minFrameLength: 60 });
    const counters = new Float64Array(LOCAL_PORT_COUNTERS);
    const local = openLocalPorts({ inside: { type: 'generator', frames: [tcp, udp], total: 10 }, outside: { type: 'sink' }, classifier: { protocols: [6], destinations: [], ports: [] } }, counters);
    const pool = PacketPool.create({ bufferCount: 64, owner: 1 });
    const ids = new Uint32Array(32);
    const n = local.ports[0].fill(pool, ids, 32);
    expect(n).toBe(5);
    expect(counters[LocalPortCounter.CLASSIFIER_REJECTED]).toBe(5);
    expect(counters[LocalPortCounter.INSIDE_IN]).toBe(5);
    pool.freeBatch(ids, n);
    local.close(pool);
    expect(pool.freeCount()).toBe(64);
  });
});
