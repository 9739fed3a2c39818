import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameLayout } from '../../../src/packet/frame-layout.ts';
import { parseFrame } from '../../../src/packet/parse-frame.ts';
import { Side, Verdict } from '../../../src/pipeline/verdict.ts';
import { frame, frame6 } from '../../unit/packet/frame-fixtures.ts';
import { HEADROOM, ip, NatHarness } from './nat-harness.ts';
import { groups, parsed } from './nat64-frames.ts';

// Hostile frames through NAT64, both ways: valid frames of every kind NAT64 translates
// (TCP, UDP, echo, ICMP errors quoting them) with random bytes overwritten. The pipeline
// never throws; every frame it lets through parses, lies inside the memory it was given,
// and a frame NAT64 translated is of the other family.
const CLIENT = groups('2001:db8:1::10');
const SERVER6 = groups('64:ff9b::198.18.0.9');

describe('nat64: hostile frames (property)', () => {
  it('never throws; what leaves parses, stays in bounds, and is translated or untouched', async () => {
    const nat = await NatHarness.create({ snat: { addresses: '198.18.100.1' }, nat64: {}, capacity: 64 });
    // Live mappings for TCP, UDP and echo, and what the server answers.
    const opened = nat.run(
      [
        { side: Side.INSIDE, bytes: frame6({ src: CLIENT, dst: SERVER6, proto: 6, srcPort: 1000, dstPort: 80, tcpFlags: 0x02, payloadLength: 40 }) },
        { side: Side.INSIDE, bytes: frame6({ src: CLIENT, dst: SERVER6, proto: 17, srcPort: 1001, dstPort: 53, payloadLength: 40 }) },
        { side: Side.INSIDE, bytes: frame6({ src: CLIENT, dst: SERVER6, proto: 58, icmpType: 128, icmpRest: (77 << 16) | 1, payloadLength: 40 }) },
      ],
      1000,
    ).map((r) => r.bytes);
    const ext = opened.map((b) => parsed(b));
    const answers = [
      frame({ srcIp: ip('198.18.0.9'), dstIp: ext[0].src4, proto: 6, srcPort: 80, dstPort: ext[0].sport, tcpFlags: 0x12, payloadLength: 30 }),
      frame({ srcIp: ip('198.18.0.9'), dstIp: ext[1].src4, proto: 17, srcPort: 53, dstPort: ext[1].sport, payloadLength: 30 }),
      frame({ srcIp: ip('198.18.0.9'), dstIp: ext[2].src4, proto: 1, icmpType: 0, icmpId: ext[2].view.getUint16(ext[2].L.l4Offset + 4), payloadLength: 30 }),
    ];
    const delivered = nat.run(answers.map((bytes) => ({ side: Side.OUTSIDE, bytes })), 1001).map((r) => r.bytes);
    const icmp4 = (quote: Uint8Array, type: number, code: number) =>
      frame({ srcIp: ip('198.18.0.1'), dstIp: ext[0].src4, proto: 1, icmpType: type, icmpCode: code, payload: quote });
    const seeds: Array<{ side: number; bytes: Uint8Array }> = [
      ...opened.map(() => null).map((_, i) => ({ side: Side.INSIDE, bytes: frame6({ src: CLIENT, dst: SERVER6, proto: [6, 17, 58][i], srcPort: 1000 + i, dstPort: 80, tcpFlags: 0x10, icmpType: 128, icmpRest: (77 << 16) | 2, payloadLength: 20 }) })),
      ...answers.map((bytes) => ({ side: Side.OUTSIDE, bytes })),
      ...opened.map((b) => ({ side: Side.OUTSIDE, bytes: icmp4(b.subarray(14), 3, 3) })),
      ...opened.map((b) => ({ side: Side.OUTSIDE, bytes: icmp4(b.subarray(14, 14 + 28), 11, 0) })),
      ...delivered.map((b) => ({ side: Side.INSIDE, bytes: frame6({ src: CLIENT, dst: SERVER6, proto: 58, icmpType: 1, icmpCode: 4, icmpRest: 0, payload: b.subarray(14) }) })),
      ...delivered.map((b) => ({ side: Side.INSIDE, bytes: frame6({ src: CLIENT, dst: SERVER6, proto: 58, icmpType: 2, icmpCode: 0, icmpRest: 1300, payload: b.subarray(14, 14 + 48) }) })),
    ];
    const L = new FrameLayout();
    let translated = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: seeds.length - 1 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 40 }) }),
        async (which, edits, cut) => {
          const seed = seeds[which];
          const bytes = seed.bytes.slice(0, Math.max(14, seed.bytes.length - cut));
          for (const [at, value] of edits) if (at < bytes.length) bytes[at] = value;
          const before = bytes[12] === 0x86 ? 6 : 4;
          const [r] = nat.run([{ side: seed.side, bytes }], 2000);
          if (r.verdict === Verdict.DROP) return;
          expect(r.verdict).toBe(seed.side ^ 1);
          expect(r.bytes.length).toBeGreaterThanOrEqual(14);
          // In bounds: at most 40 bytes into the headroom, never past the frame's slot (2048 bytes).
          expect(r.moved).toBeGreaterThanOrEqual(-40);
          expect(HEADROOM + r.moved + r.bytes.length).toBeLessThanOrEqual(2048);
          const view = new DataView(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength);
          expect(parseFrame(view, 0, r.bytes.length, L)).toBe(0);
          const after = L.ethertype === 0x86dd ? 6 : L.ethertype === 0x0800 ? 4 : 0;
          if (after !== before) {
            expect(before === 6 ? after === 4 : after === 6).toBe(true);
            translated++;
          }
        },
      ),
      { numRuns: 3000 },
    );
    // Most edits leave a frame NAT64 still translates (a payload byte, a checksum): the property saw them.
    expect(translated).toBeGreaterThan(500);
  });
});
