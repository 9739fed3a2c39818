import { describe, expect, it } from 'vitest';
import { CaptureFormatError } from '../../../src/errors/catalog.ts';
import { createCaptureRecord } from '../../../src/pcap/capture-record.ts';
import { LinkType } from '../../../src/pcap/link-type.ts';
import { openCapture } from '../../../src/pcap/open-capture.ts';
import { PcapngReader } from '../../../src/pcap/pcapng-reader.ts';
import { block, concat, epb, frameOf, idb, pb, shb, spb, text, u64, u8 } from './capture-builder.ts';

const ts = 1_700_000_000_123_456n;
const hi = (v: bigint) => Number(v >> 32n);
const lo = (v: bigint) => Number(v & 0xffffffffn);

describe('PcapngReader', () => {
  for (const le of [true, false]) {
    it(`reads SHB, IDB, EPB, SPB and obsolete PB (${le ? 'little' : 'big'}-endian)`, () => {
      const a = frameOf(60, 1);
      const b = frameOf(61, 2);
      const c = frameOf(1514, 3);
      const bytes = concat([
        shb(le, [{ code: 4, value: text('nfvkit test') }]),
        idb(le, LinkType.ETHERNET, 0, [{ code: 2, value: text('veth0') }]),
        epb(le, 0, hi(ts), lo(ts), a, 64, [{ code: 1, value: text('comment') }]),
        spb(le, b),
        pb(le, 0, hi(ts + 1n), lo(ts + 1n), c),
      ]);
      const reader = openCapture(bytes);
      expect(reader).toBeInstanceOf(PcapngReader);
      expect(reader.info).toMatchObject({ format: 'pcapng', littleEndian: le, versionMajor: 1, versionMinor: 0, linkType: 1, snaplen: 0 });
      expect(reader.info.interfaces).toEqual([
        { linkType: 1, snaplen: 0, tsUnitsPerSecond: 1e6, tsOffsetSec: 0, fcsLength: -1, name: 'veth0' },
      ]);
      const recs = [...reader];
      expect(recs.map((r) => [r.index, r.caplen, r.origLen])).toEqual([
        [0, 60, 64],
        [1, 61, 61],
        [2, 1514, 1514],
      ]);
      expect(recs[0].data).toEqual(a);
      expect(recs[1].data).toEqual(b);
      expect(recs[2].data).toEqual(c);
      expect([recs[0].tsSec, recs[0].tsNsec]).toEqual([1_700_000_000, 123_456_000]);
      expect([recs[1].tsSec, recs[1].tsNsec]).toEqual([0, 0]);
      expect([recs[2].tsSec, recs[2].tsNsec]).toEqual([1_700_000_000, 123_457_000]);
      expect(recs[0].data.buffer).toBe(bytes.buffer);
      expect(reader.view.getUint8(recs[2].offset + 5)).toBe(c[5]);
    });
  }

  it('applies if_tsresol (decimal and binary), if_tsoffset and if_fcslen per interface', () => {
    const le = true;
    const nsTs = 1_700_000_000_987_654_321n;
    const bytes = concat([
      shb(le),
      idb(le, 1, 65535, [{ code: 9, value: u8(9) }, { code: 13, value: u8(4) }]),
      idb(le, 101, 128, [{ code: 9, value: u8(0x80 | 10) }, { code: 14, value: u64(-100n, le) }]),
      idb(le, 1, 0, [{ code: 9, value: u8(3) }, { code: 14, value: u64(1_000n, le) }]),
      epb(le, 0, hi(nsTs), lo(nsTs), frameOf(20, 0)),
      epb(le, 1, 0, 5 * 1024 + 512, frameOf(20, 0)),
      epb(le, 2, 0, 2_500, frameOf(20, 0)),
    ]);
    const reader = openCapture(bytes);
    expect(reader.info.interfaces.map((i) => [i.linkType, i.snaplen, i.tsUnitsPerSecond, i.tsOffsetSec, i.fcsLength])).toEqual([
      [1, 65535, 1e9, 0, 4],
      [101, 128, 1024, -100, -1],
      [1, 0, 1e3, 1000, -1],
    ]);
    const recs = [...reader];
    expect(recs.map((r) => [r.interfaceId, r.linkType, r.tsSec, r.tsNsec])).toEqual([
      [0, 1, 1_700_000_000, 987_654_321],
      [1, 101, 5 - 100, 500_000_000],
      [2, 1, 2 + 1000, 500_000_000],
    ]);
  });

  it('skips statistics, name-resolution, decryption-secrets and custom blocks', () => {
    const le = false;
    const bytes = concat([
      shb(le),
      block(le, 4, concat([u8(0, 1, 0, 8), frameOf(8, 1), u8(0, 0, 0, 0)])),
      idb(le, 1, 96),
      block(le, 0xbad, frameOf(10, 2)),
      epb(le, 0, 0, 1, frameOf(50, 3)),
      block(le, 5, concat([u8(0, 0, 0, 0), u8(0, 0, 0, 0), u8(0, 0, 0, 0)])),
      block(le, 10, frameOf(16, 4)),
      block(le, 0x40000bad, frameOf(3, 5)),
      epb(le, 0, 0, 2, frameOf(51, 4)),
    ]);
    expect([...openCapture(bytes)].map((r) => r.data.length)).toEqual([50, 51]);
  });

  it('caps a Simple Packet Block at the interface snaplen and the original length', () => {
    const le = true;
    const bytes = concat([shb(le), idb(le, 1, 40), spb(le, frameOf(64, 1)), spb(le, frameOf(30, 2), 20)]);
    const recs = [...openCapture(bytes)];
    expect(recs.map((r) => [r.caplen, r.origLen])).toEqual([
      [40, 64],
      [20, 20],
    ]);
    expect(recs[0].data).toEqual(frameOf(64, 1).subarray(0, 40));
  });

  it('starts over with each section: own byte order, own interfaces', () => {
    const bytes = concat([
      shb(true),
      idb(true, 1, 0),
      idb(true, 113, 0),
      epb(true, 1, 0, 1, frameOf(20, 1)),
      shb(false),
      idb(false, 228, 0),
      epb(false, 0, 0, 2, frameOf(21, 2)),
    ]);
    const reader = openCapture(bytes);
    const rec = createCaptureRecord();
    expect(reader.next(rec)).toBe(true);
    expect([rec.interfaceId, rec.linkType]).toEqual([1, LinkType.LINUX_SLL]);
    expect(reader.next(rec)).toBe(true);
    expect([rec.interfaceId, rec.linkType, rec.caplen, rec.tsNsec]).toEqual([0, LinkType.IPV4, 21, 2000]);
    expect(reader.info.interfaces.map((i) => i.linkType)).toEqual([228]);
    expect(reader.info.littleEndian).toBe(true);
    expect(reader.next(rec)).toBe(false);

    const stale = concat([shb(true), idb(true, 1, 0), idb(true, 1, 0), shb(true), idb(true, 1, 0), epb(true, 1, 0, 0, frameOf(4, 0))]);
    expect(() => [...openCapture(stale)]).toThrow(/names interface 1, but the section has 1/);
  });

  it('reads an SHB-and-IDB-only file as empty', () => {
    const reader = openCapture(concat([shb(true), idb(true, 1, 0)]));
    expect([...reader]).toEqual([]);
    expect(reader.info.linkType).toBe(1);
  });

  it('reports a block cut by the end of the file: error by default, flagged on request', () => {
    const le = true;
    const head = concat([shb(le), idb(le, 1, 0), epb(le, 0, 0, 1, frameOf(60, 1))]);
    const whole = concat([head, epb(le, 0, 0, 2, frameOf(100, 2))]);
    const cut = whole.subarray(0, whole.length - 40);
    expect(() => [...openCapture(cut)]).toThrow(new RegExp(`record 1 at byte ${head.length}: block of 132 bytes runs past the end`));
    const reader = openCapture(cut, { truncated: 'flag' });
    const recs = [...reader];
    expect(recs).toHaveLength(2);
    expect(recs[1]).toMatchObject({ truncated: true, caplen: 64, origLen: 100 });
    expect(recs[1].data).toEqual(frameOf(100, 2).subarray(0, 64));
    expect(reader.truncatedAt).toBe(head.length);

    const headerOnly = whole.subarray(0, head.length + 20);
    const r2 = openCapture(headerOnly, { truncated: 'flag' });
    expect([...r2]).toHaveLength(1);
    expect(r2.truncatedAt).toBe(head.length);
    expect(() => [...openCapture(whole.subarray(0, head.length + 5))]).toThrow(/file ends inside a block header/);
  });

  it('reports a bad first packet from next(), not from the constructor', () => {
    const bytes = concat([shb(true), epb(true, 0, 0, 0, frameOf(10, 0))]);
    const reader = openCapture(bytes);
    expect(() => reader.next(createCaptureRecord())).toThrow(CaptureFormatError);
  });

  it('rejects corrupt structure with CaptureFormatError', () => {
    const le = true;
    const good = concat([shb(le), idb(le, 1, 0), epb(le, 0, 0, 0, frameOf(20, 1))]);
    const badLen = good.slice();
    new DataView(badLen.buffer).setUint32(shb(le).length + idb(le, 1, 0).length + 4, 30, le);
    const badTrailer = good.slice();
    new DataView(badTrailer.buffer).setUint32(good.length - 4, 999, le);
    const bigCaplen = good.slice();
    new DataView(bigCaplen.buffer).setUint32(shb(le).length + idb(le, 1, 0).length + 20, 21, le);
    const badBom = shb(le);
    new DataView(badBom.buffer).setUint32(8, 0x11223344, le);
    const badOpt = concat([shb(le), idb(le, 1, 0, [{ code: 2, value: text('eth0') }])]);
    new DataView(badOpt.buffer).setUint16(shb(le).length + 16 + 2, 200, le);
    const cases: Array<[Uint8Array, RegExp]> = [
      [badLen, /has bad length 30/],
      [badTrailer, /trailing length differs/],
      [bigCaplen, /caplen 21 exceeds the block's 20 data bytes/],
      [concat([badBom, idb(le, 1, 0)]), /bad byte-order magic/],
      [concat([shb(le, undefined, 2, 0), idb(le, 1, 0)]), /unsupported version 2\.0/],
      [badOpt, /option 2 runs past the block/],
      [concat([shb(le), idb(le, 1, 0, [{ code: 9, value: u8(23) }])]), /if_tsresol 10\^-23 unsupported/],
      [concat([shb(le), idb(le, 1, 0, [{ code: 9, value: u8(0x80 | 64) }])]), /if_tsresol 2\^-64 unsupported/],
      [concat([shb(le), block(le, 1, u8(1, 0, 0, 0))]), /interface block at byte 28 is too short/],
      [concat([shb(le), idb(le, 1, 0), block(le, 6, frameOf(16, 0))]), /packet block at byte \d+ is too short/],
      [concat([shb(le), idb(le, 1, 0), block(le, 3, new Uint8Array(0))]), /simple packet block at byte 48 is too short \(12\)/],
      [good.subarray(0, 27), /shorter than a section header block/],
    ];
    for (const [bytes, msg] of cases) {
      let caught: unknown;
      try {
        const reader = openCapture(bytes);
        for (const _ of reader);
      } catch (err) {
        caught = err;
      }
      expect(caught, String(msg)).toBeInstanceOf(CaptureFormatError);
      expect((caught as Error).message).toMatch(msg);
    }
  });
});
