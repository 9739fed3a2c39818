import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DropReason } from '../../../src/packet/drop-reason.ts';
import { extractFlowKey, extractIcmpInnerFlowKey, FlowKey, flowHash, flowHashDirected, flowHashWords } from '../../../src/packet/flow-key.ts';
import type { FrameSpec } from '../../../src/packet/frame-builder.ts';
import { FrameLayout } from '../../../src/packet/frame-layout.ts';
import { IpProto } from '../../../src/packet/ipv4.ts';
import { parseFrame } from '../../../src/packet/parse-frame.ts';
import { frame, viewOf } from './frame-fixtures.ts';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const proto = fc.constantFrom(1, 6, 17, 47);

function keyOf(spec: FrameSpec, inner = false): FlowKey | undefined {
  const bytes = frame(spec);
  const layout = new FrameLayout();
  expect(parseFrame(viewOf(bytes), 0, bytes.length, layout)).toBe(DropReason.OK);
  const key = new FlowKey();
  const ok = inner ? extractIcmpInnerFlowKey(viewOf(bytes), layout, key) : extractFlowKey(viewOf(bytes), layout, key);
  return ok ? key : undefined;
}

describe('flow hash', () => {
  it('is symmetric for every flow', () => {
    fc.assert(
      fc.property(u32, u32, u16, u16, proto, u32, (a, b, pa, pb, p, seed) => {
        expect(flowHash(a, b, pa, pb, p, seed)).toBe(flowHash(b, a, pb, pa, p, seed));
      }),
      { numRuns: 20_000 },
    );
    expect(flowHash(5, 5, 1, 2, 6)).toBe(flowHash(5, 5, 2, 1, 6));
  });

  it('is an unsigned 32-bit integer and depends on every field', () => {
    fc.assert(
      fc.property(u32, u32, u16, u16, proto, (a, b, pa, pb, p) => {
        const h = flowHashDirected(a, b, pa, pb, p);
        expect(Number.isInteger(h) && h >= 0 && h <= 0xffffffff).toBe(true);
        expect(flowHash(a, b, pa, pb, p) === flowHash(a ^ 1, b, pa, pb, p)).toBe(false);
        expect(flowHash(a, b, pa, pb, p) === flowHash(a, b, pa, pb ^ 0x100, p)).toBe(false);
        expect(flowHash(a, b, pa, pb, p) === flowHash(a, b, pa, pb, p ^ 2)).toBe(false);
      }),
      { numRuns: 5_000 },
    );
  });

  it('flowHashWords is the directed hash on int32 key words, and both keep their murmur3 values', () => {
    fc.assert(
      fc.property(u32, u32, u16, u16, fc.integer({ min: 0, max: 255 }), u32, (a, b, pa, pb, p, seed) => {
        expect(flowHashWords(a | 0, b | 0, (pa << 16) | pb, p, seed) >>> 0).toBe(flowHashDirected(a, b, pa, pb, p, seed));
      }),
      { numRuns: 5_000 },
    );
    expect([flowHashDirected(0, 0, 0, 0, 0), flowHashDirected(0xc6120001, 0xc6130002, 40000, 443, 6, 7)]).toEqual([0xd941144b, 0x653c551b]);
  });

  it('the directed hash tells the directions apart', () => {
    let same = 0;
    for (let i = 0; i < 10_000; i++) {
      if (flowHashDirected(0xc6120000 + i, 0xc6130001, 30000 + i, 80, 6) === flowHashDirected(0xc6130001, 0xc6120000 + i, 80, 30000 + i, 6)) same++;
    }
    expect(same).toBeLessThan(3);
  });

  it('spreads sequential clients evenly over buckets', () => {
    const buckets = new Uint32Array(64);
    const n = 64_000;
    for (let i = 0; i < n; i++) buckets[flowHash(0xc6120000 + (i >>> 8), 0xc6130001, 1024 + (i & 0xff), 443, 6) & 63]++;
    for (const c of buckets) expect(Math.abs(c - n / 64)).toBeLessThan((n / 64) * 0.15);
  });
});

describe('flow key extraction', () => {
  it('TCP and UDP use the ports; both directions hash alike', () => {
    const fwd = keyOf({ proto: IpProto.TCP, srcIp: 0xc6120001, dstIp: 0xc6130002, srcPort: 40000, dstPort: 443, vlanIds: [9] })!;
    expect({ ...fwd }).toEqual({ srcIp: 0xc6120001, dstIp: 0xc6130002, srcPort: 40000, dstPort: 443, proto: 6 });
    const rev = keyOf({ proto: IpProto.TCP, srcIp: 0xc6130002, dstIp: 0xc6120001, srcPort: 443, dstPort: 40000 })!;
    expect(rev.hash()).toBe(fwd.hash());
    rev.reverse();
    expect(rev.equals(fwd)).toBe(true);
    expect({ ...keyOf({ proto: IpProto.UDP, srcPort: 5, dstPort: 53 }) }).toMatchObject({ srcPort: 5, dstPort: 53, proto: 17 });
  });

  it('ICMP echo uses the identifier as both ports; request and reply are one flow', () => {
    const req = keyOf({ proto: IpProto.ICMP, icmpType: 8, icmpId: 777, srcIp: 1, dstIp: 2 })!;
    const rep = keyOf({ proto: IpProto.ICMP, icmpType: 0, icmpId: 777, srcIp: 2, dstIp: 1 })!;
    expect([req.srcPort, req.dstPort]).toEqual([777, 777]);
    expect(req.hash()).toBe(rep.hash());
    expect([...Object.values(keyOf({ proto: 47, payloadLength: 4 })!)]).toEqual([0xc6120001, 0xc6120002, 0, 0, 47]);
  });

  it('ARP has no flow key', () => {
    expect(keyOf({ kind: 'arp' })).toBeUndefined();
  });

  it('ICMP errors yield the quoted flow', () => {
    const quoted = frame({ proto: IpProto.UDP, srcIp: 0xc6120005, dstIp: 0xc6130009, srcPort: 5353, dstPort: 53, payloadLength: 4 });
    const inner = quoted.subarray(14, 14 + 28);
    const err: FrameSpec = { proto: IpProto.ICMP, icmpType: 3, icmpCode: 3, icmpId: 0, icmpSeq: 0, payload: inner, srcIp: 0xc6130009, dstIp: 0xc6120005 };
    const key = keyOf(err, true)!;
    expect({ ...key }).toEqual({ srcIp: 0xc6120005, dstIp: 0xc6130009, srcPort: 5353, dstPort: 53, proto: 17 });
    expect({ ...keyOf(err)! }).toMatchObject({ srcPort: 0, dstPort: 0, proto: 1 });
    expect(keyOf({ ...err, payload: inner.subarray(0, 27) }, true)).toBeUndefined();
    expect(keyOf({ ...err, icmpType: 8 }, true)).toBeUndefined();
    const badIhl = inner.slice();
    badIhl[0] = 0x4f;
    expect(keyOf({ ...err, payload: badIhl }, true)).toBeUndefined();
  });
});
