import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checksumUpdate16, checksumUpdate32, computeIcmpChecksum, computeIpv4HeaderChecksum, computeTcpChecksum, computeUdpChecksum,
  finishChecksum, foldSum, internetChecksum, pseudoHeaderSum, sumWords, verifyIcmpChecksum, verifyIpv4HeaderChecksum,
  verifyTcpChecksum, verifyUdpChecksum, writeUdpChecksum,
} from '../../../src/packet/checksum.ts';
import { IpProto } from '../../../src/packet/ipv4.ts';
import { frame, hex, placed, reference16, toHex, viewOf } from './frame-fixtures.ts';

// Frames whose checksums were verified with an independent Python implementation.
const UDP_FRAME = '02000000000202000000000108004500002e000040004011ae97c6120001c61200029c400035001a8ecb000102030405060708090a0b0c0d0e0f1011';
const TCP_FRAME = '020000000002020000000001080045000028000040004006aea8c6120001c61200029c40005000000001000000005002ffff87290000';
const ICMP_FRAME = '020000000002020000000001080045000021000040004001aeb4c6120001c61200020800f1f9000100010001020304';
const QINQ_OPT_UDP = '02000000000202000000000188a8000581000007080047000024000040004011a09dc6120001c612000201010703040000009c4000350008d740';

describe('internet checksum (RFC 1071)', () => {
  it('matches the RFC 1071 section 3 example at any offset', () => {
    const data = hex('0001 f203 f4f5 f6f7');
    for (const off of [0, 1, 2, 3, 7]) {
      const v = placed(data, off, 0xee);
      expect(foldSum(sumWords(v, off, 8))).toBe(0xddf2);
      expect(internetChecksum(v, off, 8)).toBe(0x220d);
    }
  });

  it('pads an odd last byte with zero', () => {
    const v = placed(hex('0001 f203 f4f5 f6'), 5, 0xff);
    expect(foldSum(sumWords(v, 5, 7))).toBe(0xdcfb);
    expect(foldSum(sumWords(v, 5, 7))).toBe(reference16(hex('0001f203f4f5f6'), 0, 7));
  });

  it('gives 0xFFFF for all-zero data, like RFC 1071', () => {
    const v = new DataView(new ArrayBuffer(16));
    expect(internetChecksum(v, 0, 16)).toBe(0xffff);
    expect(computeIcmpChecksum(v, 0, 8)).toBe(0xffff);
    expect(finishChecksum(0)).toBe(0xffff);
  });

  it('agrees with a byte-wise reference on random data, offsets and lengths', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(300), fc.nat(300), fc.nat(0x3ffff), (bytes, a, b, initial) => {
        const start = Math.min(a, bytes.length);
        const length = Math.min(b, bytes.length - start);
        const got = foldSum(sumWords(viewOf(bytes), start, length, initial));
        expect(got).toBe(reference16(bytes, start, length, initial));
      }),
      { numRuns: 3000 },
    );
  });

  it('stays exact over buffers longer than its fold interval', () => {
    const bytes = new Uint8Array(200_003);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + 7) & 0xff;
    bytes.fill(0xff, 1000, 90_000);
    expect(foldSum(sumWords(viewOf(bytes), 1, bytes.length - 1))).toBe(reference16(bytes, 1, bytes.length - 1));
    expect(foldSum(2 ** 40 + 5)).toBe(reference16(new Uint8Array(0), 0, 0, 2 ** 40 + 5));
  });
});

describe('IPv4 header checksum', () => {
  const HDR = hex('4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7');

  it('computes and verifies the textbook header (checksum 0xb861)', () => {
    const v = placed(HDR, 3);
    expect(computeIpv4HeaderChecksum(v, 3)).toBe(0xb861);
    expect(verifyIpv4HeaderChecksum(v, 3)).toBe(true);
    v.setUint8(3 + 8, 0x3f);
    expect(verifyIpv4HeaderChecksum(v, 3)).toBe(false);
  });

  it('handles headers with options', () => {
    const bytes = hex(QINQ_OPT_UDP);
    const v = viewOf(bytes);
    expect(computeIpv4HeaderChecksum(v, 22)).toBe(0xa09d);
    expect(verifyIpv4HeaderChecksum(v, 22)).toBe(true);
    v.setUint8(22 + 21, 2);
    expect(verifyIpv4HeaderChecksum(v, 22)).toBe(false);
  });

  it('computes a value that verifies for random headers', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 60, maxLength: 60 }), fc.integer({ min: 5, max: 15 }), (bytes, ihl) => {
        bytes[0] = 0x40 | ihl;
        const v = viewOf(bytes);
        v.setUint16(10, computeIpv4HeaderChecksum(v, 0));
        expect(verifyIpv4HeaderChecksum(v, 0)).toBe(true);
        expect(reference16(bytes, 0, ihl * 4)).toBe(0xffff);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('TCP, UDP and ICMP checksums', () => {
  it('reproduce the independently verified frames', () => {
    const udp = viewOf(hex(UDP_FRAME));
    expect(computeUdpChecksum(udp, 14, 34, 26)).toBe(0x8ecb);
    expect(verifyUdpChecksum(udp, 14, 34, 26)).toBe(true);
    const tcp = viewOf(hex(TCP_FRAME));
    expect(computeTcpChecksum(tcp, 14, 34, 20)).toBe(0x8729);
    expect(verifyTcpChecksum(tcp, 14, 34, 20)).toBe(true);
    const icmp = viewOf(hex(ICMP_FRAME));
    expect(computeIcmpChecksum(icmp, 34, 13)).toBe(0xf1f9);
    expect(verifyIcmpChecksum(icmp, 34, 13)).toBe(true);
    const qinq = viewOf(hex(QINQ_OPT_UDP));
    expect(computeUdpChecksum(qinq, 22, 50, 8)).toBe(0xd740);
  });

  it('the frame builder writes exactly those frames', () => {
    expect(toHex(frame({ proto: IpProto.UDP, payloadLength: 18 }))).toBe(UDP_FRAME);
    expect(toHex(frame({ proto: IpProto.TCP }))).toBe(TCP_FRAME);
    expect(toHex(frame({ proto: IpProto.ICMP, payloadLength: 5 }))).toBe(ICMP_FRAME);
    expect(toHex(frame({ proto: IpProto.UDP, vlanIds: [5, 7], ipOptions: [1, 1, 7, 3, 4] }))).toBe(QINQ_OPT_UDP);
  });

  it('detect a single flipped bit anywhere in the segment or pseudo-header', () => {
    const base = hex(TCP_FRAME);
    for (let byte = 14 + 12; byte < base.length; byte++) {
      if (byte >= 14 + 20 && byte < 34) continue;
      const bytes = base.slice();
      bytes[byte] ^= 1 << (byte % 8);
      expect(verifyTcpChecksum(viewOf(bytes), 14, 34, 20), `byte ${byte}`).toBe(false);
    }
  });

  it('UDP: 0 means no checksum; a computed 0 is sent as 0xFFFF', () => {
    const bytes = hex(UDP_FRAME);
    const v = viewOf(bytes);
    v.setUint16(40, 0);
    v.setUint8(50, 0x99);
    expect(verifyUdpChecksum(v, 14, 34, 26)).toBe(true);
    const partial = finishChecksum(sumWords(v, 34, 24, pseudoHeaderSum(v.getUint32(26), v.getUint32(30), 17, 26)));
    v.setUint16(58, partial === 0xffff ? 0 : partial);
    expect(foldSum(sumWords(v, 34, 26, pseudoHeaderSum(v.getUint32(26), v.getUint32(30), 17, 26)))).toBe(0xffff);
    expect(computeUdpChecksum(v, 14, 34, 26)).toBe(0xffff);
    writeUdpChecksum(v, 14, 34, 26);
    expect(v.getUint16(40)).toBe(0xffff);
    expect(verifyUdpChecksum(v, 14, 34, 26)).toBe(true);
  });
});

describe('RFC 1624 incremental update', () => {
  const words = fc.array(fc.oneof(fc.constantFrom(0, 0xffff, 1, 0xfffe), fc.integer({ min: 0, max: 0xffff })), { minLength: 2, maxLength: 40 });

  it('checksumUpdate16 equals a full recompute', () => {
    fc.assert(
      fc.property(words, fc.nat(), fc.oneof(fc.constantFrom(0, 0xffff), fc.integer({ min: 0, max: 0xffff })), (ws, at, nu) => {
        const i = at % ws.length;
        const before = finishChecksum(ws.reduce((s, w) => s + w, 0));
        const after = ws.slice();
        after[i] = nu;
        const full = finishChecksum(after.reduce((s, w) => s + w, 0));
        if (after.every((w) => w === 0)) expect(full).toBe(0xffff);
        else expect(checksumUpdate16(before, ws[i], nu)).toBe(full);
      }),
      { numRuns: 10_000 },
    );
  });

  it('checksumUpdate32 equals a full recompute', () => {
    fc.assert(
      fc.property(words, fc.nat(), fc.integer({ min: 0, max: 0xffffffff }), (ws, at, nu) => {
        const i = at % (ws.length - 1);
        const before = finishChecksum(ws.reduce((s, w) => s + w, 0));
        const old = ws[i] * 0x10000 + ws[i + 1];
        const after = ws.slice();
        after[i] = nu >>> 16;
        after[i + 1] = nu & 0xffff;
        if (after.every((w) => w === 0)) return;
        expect(checksumUpdate32(before, old, nu)).toBe(finishChecksum(after.reduce((s, w) => s + w, 0)));
      }),
      { numRuns: 10_000 },
    );
  });
});
