import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DropReason } from '../../../src/packet/drop-reason.ts';
import { extractFlowKey, FlowKey } from '../../../src/packet/flow-key.ts';
import { extractFlowKey6, extractIcmpv6InnerFlowKey, FlowKey6, flowHash6, flowHash6Directed } from '../../../src/packet/flow-key-ipv6.ts';
import { FrameLayout } from '../../../src/packet/frame-layout.ts';
import type { Ipv6FrameSpec } from '../../../src/packet/ipv6-frame-builder.ts';
import { parseFrame } from '../../../src/packet/parse-frame.ts';
import { frame, frame6, viewOf } from './frame-fixtures.ts';

const u32 = fc.oneof(fc.constantFrom(0, 1, 0x7fffffff, 0x80000000, 0xffffffff), fc.integer({ min: 0, max: 0xffffffff }));
const addr = fc.array(u32, { minLength: 4, maxLength: 4 });
const u16 = fc.integer({ min: 0, max: 0xffff });
const CLIENT = [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10];
const SERVER = [0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x80];

function parsed(bytes: Uint8Array): { view: DataView; layout: FrameLayout } {
  const layout = new FrameLayout();
  const view = viewOf(bytes);
  expect(parseFrame(view, 0, bytes.length, layout)).toBe(DropReason.OK);
  return { view, layout };
}

function keyOf(spec: Ipv6FrameSpec, inner = false): FlowKey6 | undefined {
  const { view, layout } = parsed(frame6(spec));
  const key = new FlowKey6();
  return (inner ? extractIcmpv6InnerFlowKey(view, layout, key) : extractFlowKey6(view, layout, key)) ? key : undefined;
}

describe('IPv6 flow hash', () => {
  it('is symmetric: hash(a→b) = hash(b→a) for every flow, equal addresses and ports included', () => {
    fc.assert(fc.property(addr, fc.oneof(addr, fc.constant(null)), u16, u16, fc.constantFrom(6, 17, 58, 0, 255), u32, (a, b0, pa, pb, p, seed) => {
      const b = b0 ?? a;
      const k = new FlowKey6();
      k.set(a, b, pa, pb, p);
      const h = flowHash6(k, seed);
      k.reverse();
      expect(flowHash6(k, seed)).toBe(h);
    }), { numRuns: 20_000 });
  });

  it('is directed underneath, and every word, port, protocol and the seed count', () => {
    const base = [0x20010db8, 0, 0, 1, 0x20010db8, 0, 0, 2, 40000, 80, 6, 7] as const;
    const h = flowHash6Directed(...base);
    expect(flowHash6Directed(0x20010db8, 0, 0, 2, 0x20010db8, 0, 0, 1, 80, 40000, 6, 7)).not.toBe(h);
    for (let i = 0; i < base.length; i++) {
      const changed = [...base] as number[];
      changed[i] = (changed[i] ^ (i >= 8 && i <= 10 ? 1 : 0x100)) >>> 0;
      expect(flowHash6Directed(...(changed as unknown as typeof base)), `argument ${i}`).not.toBe(h);
    }
    expect(flowHash6Directed(-1, 0, 0, 0, 0, 0, 0, 0, 1, 2, 17)).toBe(flowHash6Directed(0xffffffff, 0, 0, 0, 0, 0, 0, 0, 1, 2, 17));
  });

  it('spreads flows evenly over buckets', () => {
    const k = new FlowKey6();
    const buckets = new Uint32Array(64);
    for (let i = 0; i < 64_000; i++) {
      k.set([0x20010db8, 0, 0, i >>> 8], [0x20010db8, 0, 1, 0x80], 1024 + (i & 0xff), 443, 6);
      buckets[flowHash6(k, 99) % 64]++;
    }
    for (const n of buckets) expect(Math.abs(n - 1000)).toBeLessThan(150);
  });

  it('leaves the IPv4 key and hash alone: extractFlowKey refuses IPv6, extractFlowKey6 refuses IPv4', () => {
    const v6 = parsed(frame6({ proto: 6 }));
    expect(extractFlowKey(v6.view, v6.layout, new FlowKey())).toBe(false);
    const v4 = parsed(frame({ proto: 6 }));
    expect(extractFlowKey6(v4.view, v4.layout, new FlowKey6())).toBe(false);
  });
});

describe('IPv6 flow keys from frames', () => {
  it('TCP/UDP ports, echo identifier as both ports, other ICMPv6 and later fragments 0', () => {
    expect(keyOf({ proto: 6, src: CLIENT, dst: SERVER, srcPort: 40000, dstPort: 443 })).toMatchObject({
      s0: 0x20010db8, s3: 0x10, d0: 0x20010db8, d1: 0x10000, d3: 0x80, srcPort: 40000, dstPort: 443, proto: 6,
    });
    expect(keyOf({ proto: 17, srcPort: 5353, dstPort: 53, extensionHeaders: [{ type: 0 }, { type: 60 }] })).toMatchObject({ srcPort: 5353, dstPort: 53, proto: 17 });
    expect(keyOf({ proto: 58, icmpType: 129, icmpRest: 0x4242_0009 })).toMatchObject({ srcPort: 0x4242, dstPort: 0x4242, proto: 58 });
    expect(keyOf({ proto: 58, icmpType: 135, payloadLength: 16 })).toMatchObject({ srcPort: 0, dstPort: 0 });
    expect(keyOf({ proto: 17, srcPort: 1, dstPort: 2, payloadLength: 8, extensionHeaders: [{ type: 44, fragmentOffset: 5 }] })).toMatchObject({ srcPort: 0, dstPort: 0, proto: 17 });
    expect(keyOf({ proto: 17, srcPort: 1, dstPort: 2, payloadLength: 8, extensionHeaders: [{ type: 44, moreFragments: true }] })).toMatchObject({ srcPort: 1, dstPort: 2 });
  });

  it('an echo request and its reply, a segment and its answer: one symmetric hash', () => {
    const req = keyOf({ proto: 58, icmpType: 128, src: CLIENT, dst: SERVER, icmpRest: 0x77770001 })!;
    const rep = keyOf({ proto: 58, icmpType: 129, src: SERVER, dst: CLIENT, icmpRest: 0x77770001 })!;
    expect(flowHash6(req, 3)).toBe(flowHash6(rep, 3));
    const syn = keyOf({ proto: 6, src: CLIENT, dst: SERVER, srcPort: 40000, dstPort: 80 })!;
    const synAck = keyOf({ proto: 6, src: SERVER, dst: CLIENT, srcPort: 80, dstPort: 40000 })!;
    expect(flowHash6(syn)).toBe(flowHash6(synAck));
    synAck.reverse();
    expect(synAck.equals(syn)).toBe(true);
  });

  it('an ICMPv6 error gives the quoted flow as sent, through extension headers and a cut quote', () => {
    const sent = frame6({ proto: 17, src: CLIENT, dst: SERVER, srcPort: 5000, dstPort: 33434, payloadLength: 100, extensionHeaders: [{ type: 60 }] });
    for (const cut of [sent.length - 14, 40 + 8 + 8]) {
      for (const type of [1, 2, 3, 4]) {
        const key = keyOf({ proto: 58, icmpType: type, src: SERVER, dst: CLIENT, icmpRest: 1280, payload: sent.subarray(14, 14 + cut) }, true);
        expect(key, `type ${type} cut ${cut}`).toMatchObject({ s3: 0x10, d3: 0x80, srcPort: 5000, dstPort: 33434, proto: 17 });
      }
    }
    const frag = frame6({ proto: 6, src: CLIENT, dst: SERVER, srcPort: 1, dstPort: 2, payloadLength: 1500, extensionHeaders: [{ type: 44, moreFragments: true }] });
    expect(keyOf({ proto: 58, icmpType: 2, src: SERVER, dst: CLIENT, payload: frag.subarray(14, 14 + 1232) }, true)).toMatchObject({ srcPort: 1, dstPort: 2, proto: 6 });
  });

  it('refuses what is no quoting error, or a quote without its ports', () => {
    const sent = frame6({ proto: 6, src: CLIENT, dst: SERVER, payloadLength: 10 });
    expect(keyOf({ proto: 58, icmpType: 128, payload: sent.subarray(14) }, true)).toBeUndefined();
    expect(keyOf({ proto: 58, icmpType: 1, payload: sent.subarray(14, 14 + 40 + 7) }, true)).toBeUndefined();
    const notV6 = sent.slice(14);
    notV6[0] = 0x45;
    expect(keyOf({ proto: 58, icmpType: 1, payload: notV6 }, true)).toBeUndefined();
    expect(keyOf({ proto: 58, icmpType: 3, payload: frame6({ proto: 6, extensionHeaders: Array.from({ length: 9 }, () => ({ type: 60 })) }).subarray(14) }, true)).toBeUndefined();
    expect(keyOf({ proto: 6 }, true)).toBeUndefined();
  });
});
