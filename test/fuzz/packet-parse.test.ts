import { describe, expect, it } from 'vitest';
import { writeIpv4HeaderChecksum } from '../../src/packet/checksum.ts';
import { DROP_REASON_COUNT, DROP_REASON_NAMES, DropReason } from '../../src/packet/drop-reason.ts';
import { extractFlowKey, extractIcmpInnerFlowKey, FlowKey } from '../../src/packet/flow-key.ts';
import { extractFlowKey6, extractIcmpv6InnerFlowKey, FlowKey6 } from '../../src/packet/flow-key-ipv6.ts';
import type { FrameSpec } from '../../src/packet/frame-builder.ts';
import { FrameLayout } from '../../src/packet/frame-layout.ts';
import { IpProto } from '../../src/packet/ipv4.ts';
import { parseFrame, parseFrameGeneral, verifyL4Checksum } from '../../src/packet/parse-frame.ts';
import { frame, frame6 } from '../unit/packet/frame-fixtures.ts';
import { Rng } from '../support/rng.ts';

const FRAMES = 120_000;
const MAX = 256;
const OFF = 300;

const templates: Uint8Array[] = (
  [
    { proto: IpProto.UDP, payloadLength: 18 },
    { proto: IpProto.UDP, payloadLength: 0, udpNoChecksum: true, vlanIds: [12] },
    { proto: IpProto.TCP, tcpOptions: [2, 4, 5, 0xb4, 1, 1, 4, 2], payloadLength: 9 },
    { proto: IpProto.TCP, vlanIds: [1, 2], ipOptions: [0x94, 4, 0, 0], padding: 6 },
    { proto: IpProto.ICMP, payloadLength: 32 },
    { proto: IpProto.ICMP, icmpType: 11, payload: frame({ proto: IpProto.UDP, payloadLength: 8 }).subarray(14) },
    { proto: 47, payloadLength: 24 },
    { kind: 'arp' },
    { kind: 'arp', vlanIds: [100], padding: 18 },
  ] as FrameSpec[]
).map(frame);

const quotedUdp6 = frame6({ proto: 17, payloadLength: 12, extensionHeaders: [{ type: 60 }] }).subarray(14);
const templates6: Uint8Array[] = [
  frame6({ proto: 17, payloadLength: 18 }),
  frame6({ proto: 6, payloadLength: 9, vlanIds: [5] }),
  frame6({ proto: 58, icmpType: 128, payloadLength: 16 }),
  frame6({ proto: 58, icmpType: 1, payload: quotedUdp6 }),
  frame6({ proto: 58, icmpType: 136, hopLimit: 255, payloadLength: 24 }),
  frame6({ proto: 6, extensionHeaders: [{ type: 0 }, { type: 60, length: 16 }, { type: 43 }, { type: 51, length: 16 }] }),
  frame6({ proto: 17, payloadLength: 16, extensionHeaders: [{ type: 44, moreFragments: true }] }),
  frame6({ proto: 17, payloadLength: 24, extensionHeaders: [{ type: 44, fragmentOffset: 7 }] }),
  frame6({ proto: 59, extensionHeaders: [{ type: 0 }, { type: 60 }, { type: 60 }, { type: 60 }, { type: 60 }, { type: 60 }, { type: 60 }, { type: 60 }] }),
];
templates.push(...templates6);

function snapshot(l: FrameLayout): string {
  return [l.frameOffset, l.frameLength, l.ethertype, l.vlanCount, l.vlanIds[0], l.vlanIds[1], l.l3Offset, l.l3Length, l.ipHeaderLength,
    l.ipTotalLength, l.ipProto, l.isFragment, l.l4Offset, l.l4Length, l.payloadOffset, l.payloadLength].join(',');
}

function layoutProblem(l: FrameLayout, code: number, off: number, len: number): string | undefined {
  const end = off + len;
  if (!Number.isInteger(code) || code < 0 || code >= DROP_REASON_COUNT) return `unknown code ${code}`;
  if (l.frameOffset !== off || l.frameLength !== len) return 'frame range not recorded';
  if (l.vlanCount < 0 || l.vlanCount > 2) return `vlanCount ${l.vlanCount}`;
  const spans: Array<[string, number, number]> = [['l3', l.l3Offset, l.l3Length], ['l4', l.l4Offset, l.l4Length], ['payload', l.payloadOffset, l.payloadLength]];
  for (const [name, at, n] of spans) {
    if (at === -1) {
      if (n !== 0) return `${name} length without offset`;
      continue;
    }
    if (at < off || at > end || n < 0 || at + n > end) return `${name} [${at}, +${n}) outside [${off}, ${end}]`;
  }
  if (code === DropReason.OK && l.ethertype === 0x86dd) {
    if (l.l3Offset + l.ipTotalLength > end || l.ipHeaderLength < 40) return 'IPv6 packet beyond the frame';
    const upper = l.l3Offset + l.ipHeaderLength;
    if (l.l4Offset === -1) {
      if (!l.isFragment || l.payloadOffset !== upper) return 'no L4 header but not a later fragment';
    } else {
      if (l.l4Offset !== upper) return 'IPv6 l4 does not follow the extension headers';
      if (l.l4Offset + l.l4Length > l.l3Offset + l.ipTotalLength) return 'IPv6 l4 beyond the packet';
      if (l.payloadOffset < l.l4Offset || l.payloadOffset + l.payloadLength > l.l4Offset + l.l4Length) return 'IPv6 payload outside l4';
    }
  }
  if (code === DropReason.OK && l.ethertype === 0x0800) {
    if (l.l4Offset !== l.l3Offset + l.ipHeaderLength) return 'l4 does not follow the IP header';
    if (l.l3Offset + l.ipTotalLength > end || l.l4Offset + l.l4Length > l.l3Offset + l.ipTotalLength) return 'l4 beyond IP packet';
    if (l.payloadOffset < l.l4Offset || l.payloadOffset + l.payloadLength > l.l4Offset + l.l4Length) return 'payload outside l4';
    if (l.isFragment) return 'OK fragment';
  }
  return undefined;
}

function fixIpv4Checksum(view: DataView, off: number, len: number): void {
  let p = off + 12;
  for (let t = 0; t < 2 && p + 6 <= off + len && (view.getUint16(p) === 0x8100 || view.getUint16(p) === 0x88a8); t++) p += 4;
  const l3 = p + 2;
  if (l3 + 20 > off + len || view.getUint16(p) !== 0x0800) return;
  const hlen = (view.getUint8(l3) & 0x0f) * 4;
  if (hlen >= 20 && l3 + hlen <= off + len) writeIpv4HeaderChecksum(view, l3);
}

describe('parseFrame fuzz', () => {
  it(`${FRAMES} random and mutated frames: never throws, known codes, offsets inside the frame, no reads past it`, () => {
    const rng = new Rng(0x5eed1234);
    const mem = new Uint8Array(OFF + MAX + 64);
    const view = new DataView(mem.buffer);
    const layout = new FrameLayout();
    const again = new FrameLayout();
    const general = new FrameLayout();
    const key = new FlowKey();
    const key6 = new FlowKey6();
    const seen = new Uint32Array(DROP_REASON_COUNT);
    let seen6 = 0;
    const problems: string[] = [];
    for (let n = 0; n < FRAMES; n++) {
      for (let i = 0; i < mem.length; i++) mem[i] = rng.next() & 0xff;
      let len: number;
      if (n % 4 === 0) {
        len = rng.int(MAX);
        if (rng.int(2) === 0 && len >= 16) {
          const t = rng.int(5);
          mem[OFF + 12] = [0x08, 0x81, 0x88, 0x08, 0x86][t];
          mem[OFF + 13] = [0x00, 0x00, 0xa8, 0x06, 0xdd][t];
          mem[OFF + 14] = t === 4 ? 0x60 : 0x45;
        }
      } else {
        const t = templates[rng.int(templates.length)];
        mem.set(t, OFF);
        len = t.length;
        const flips = rng.int(5);
        for (let f = 0; f < flips; f++) mem[OFF + rng.int(t.length)] = rng.int(3) === 0 ? mem[OFF + rng.int(t.length)] ^ (1 << rng.int(8)) : rng.next() & 0xff;
        const cut = rng.int(4);
        if (cut === 0) len = rng.int(t.length + 1);
        else if (cut === 1) len = Math.min(MAX, t.length + rng.int(40));
        if (rng.int(2) === 0) fixIpv4Checksum(view, OFF, len);
      }
      const flags = rng.int(4);
      const code = parseFrame(view, OFF, len, layout, flags);
      seen[code]++;
      const problem = layoutProblem(layout, code, OFF, len);
      if (problem !== undefined) problems.push(`#${n}: ${problem}`);
      const shape = snapshot(layout);
      for (let i = 0; i < OFF; i++) mem[i] = rng.next() & 0xff;
      for (let i = OFF + len; i < mem.length; i++) mem[i] = rng.next() & 0xff;
      const code2 = parseFrame(view, OFF, len, again, flags);
      if (code2 !== code || snapshot(again) !== shape) problems.push(`#${n}: result depends on bytes outside the frame`);
      const code3 = parseFrameGeneral(view, OFF, len, general, flags);
      if (code3 !== code || snapshot(general) !== shape) problems.push(`#${n}: parseFrame ${code} and parseFrameGeneral ${code3} disagree`);
      if (code === DropReason.OK) {
        const v = verifyL4Checksum(view, layout);
        if (v !== DropReason.OK && v !== DropReason.TCP_BAD_CHECKSUM && v !== DropReason.UDP_BAD_CHECKSUM && v !== DropReason.ICMP_BAD_CHECKSUM && v !== DropReason.ICMPV6_BAD_CHECKSUM) problems.push(`#${n}: verifyL4Checksum ${v}`);
        extractFlowKey(view, layout, key);
        extractIcmpInnerFlowKey(view, layout, key);
        extractFlowKey6(view, layout, key6);
        extractIcmpv6InnerFlowKey(view, layout, key6);
        if (layout.ethertype === 0x86dd) seen6++;
      }
      if (problems.length > 20) break;
    }
    expect(problems).toEqual([]);
    const hit = DROP_REASON_NAMES.filter((_, i) => seen[i] > 0);
    expect(hit.length, `reasons reached: ${hit.join(' ')}`).toBeGreaterThanOrEqual(34);
    expect(hit.filter((r) => r.startsWith('ipv6_') || r.startsWith('icmpv6_')).length, `IPv6 reasons reached: ${hit.join(' ')}`).toBeGreaterThanOrEqual(8);
    expect(seen6, 'IPv6 frames accepted').toBeGreaterThan(FRAMES / 50);
    expect(seen[DropReason.OK]).toBeGreaterThan(FRAMES / 20);
  });
});
