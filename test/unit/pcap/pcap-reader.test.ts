import { describe, expect, it } from 'vitest';
import { CaptureFormatError } from '../../../src/errors/catalog.ts';
import { createCaptureRecord } from '../../../src/pcap/capture-record.ts';
import { LinkType } from '../../../src/pcap/link-type.ts';
import { openCapture } from '../../../src/pcap/open-capture.ts';
import { PcapReader } from '../../../src/pcap/pcap-reader.ts';
import { buildPcap, frameOf } from './capture-builder.ts';

const frames = [frameOf(60, 1), frameOf(1514, 2), frameOf(14, 3)];

describe('PcapReader', () => {
  for (const le of [true, false]) {
    for (const nano of [false, true]) {
      it(`reads ${le ? 'little' : 'big'}-endian ${nano ? 'nanosecond' : 'microsecond'} files`, () => {
        const bytes = buildPcap({
          le,
          nano,
          snaplen: 2000,
          records: frames.map((data, i) => ({ data, sec: 1_700_000_000 + i, frac: 123_456 + i })),
        });
        const reader = openCapture(bytes);
        expect(reader).toBeInstanceOf(PcapReader);
        expect(reader.info).toMatchObject({ format: 'pcap', littleEndian: le, versionMajor: 2, versionMinor: 4, snaplen: 2000, linkType: 1 });
        expect(reader.info.interfaces[0].tsUnitsPerSecond).toBe(nano ? 1e9 : 1e6);
        const recs = [...reader];
        expect(recs.map((r) => r.index)).toEqual([0, 1, 2]);
        for (let i = 0; i < frames.length; i++) {
          expect(recs[i].data).toEqual(frames[i]);
          expect(recs[i].caplen).toBe(frames[i].length);
          expect(recs[i].origLen).toBe(frames[i].length);
          expect(recs[i].tsSec).toBe(1_700_000_000 + i);
          expect(recs[i].tsNsec).toBe(nano ? 123_456 + i : (123_456 + i) * 1000);
          expect(recs[i].linkType).toBe(LinkType.ETHERNET);
          expect(recs[i].truncated).toBe(false);
          expect(new Uint8Array(reader.view.buffer, reader.view.byteOffset + recs[i].offset, recs[i].caplen)).toEqual(frames[i]);
        }
        expect(reader.truncatedAt).toBe(-1);
      });
    }
  }

  it('hands out views into the file buffer, not copies', () => {
    const bytes = buildPcap({ records: [{ data: frameOf(64, 9) }] });
    const rec = [...openCapture(bytes)][0];
    expect(rec.data.buffer).toBe(bytes.buffer);
    bytes[24 + 16] ^= 0xff;
    expect(rec.data[0]).toBe(bytes[24 + 16]);
  });

  it('reads a file that sits at an offset inside a larger buffer', () => {
    const file = buildPcap({ le: false, records: [{ data: frameOf(42, 5), sec: 7 }] });
    const big = new Uint8Array(file.length + 13);
    big.set(file, 13);
    const reader = openCapture(big.subarray(13));
    const rec = createCaptureRecord();
    expect(reader.next(rec)).toBe(true);
    expect(rec.offset).toBe(40);
    expect(reader.view.getUint8(rec.offset)).toBe(frameOf(42, 5)[0]);
    expect(rec.tsSec).toBe(7);
    expect(reader.next(rec)).toBe(false);
  });

  it('takes the link type from the low 16 bits and the FCS length only when bit 26 is set', () => {
    const fcs3 = openCapture(buildPcap({ linkField: 0x30000001 }));
    expect(fcs3.info.linkType).toBe(1);
    expect(fcs3.info.rawLinkTypeField).toBe(0x30000001);
    expect(fcs3.info.interfaces[0].fcsLength).toBe(-1);
    const withP = openCapture(buildPcap({ le: false, linkField: 0x24000001 }));
    expect(withP.info.linkType).toBe(1);
    expect(withP.info.interfaces[0].fcsLength).toBe(4);
    expect(openCapture(buildPcap({ linkField: 0x04000001 })).info.linkType).toBe(1);
    expect(openCapture(buildPcap({ linkField: 0x00010071 })).info.linkType).toBe(LinkType.LINUX_SLL);
  });

  it('keeps odd record lengths as written: caplen > snaplen, caplen > len, len 0, caplen 0', () => {
    const bytes = buildPcap({
      snaplen: 31,
      thiszone: -58879,
      sigfigs: 247,
      records: [
        { data: frameOf(34, 1), origLen: 32 },
        { data: frameOf(47, 2), origLen: 0 },
        { data: new Uint8Array(0), origLen: 0 },
        { data: frameOf(20, 3), origLen: 262144 },
      ],
    });
    const reader = openCapture(bytes);
    expect(reader.info.thiszone).toBe(-58879);
    expect(reader.info.sigfigs).toBe(247);
    const recs = [...reader];
    expect(recs.map((r) => [r.caplen, r.origLen])).toEqual([
      [34, 32],
      [47, 0],
      [0, 0],
      [20, 262144],
    ]);
    expect(recs[2].data.length).toBe(0);
  });

  it('carries an out-of-range fraction into the seconds', () => {
    const rec = [...openCapture(buildPcap({ records: [{ data: frameOf(1, 0), sec: 10, frac: 2_500_000 }] }))][0];
    expect([rec.tsSec, rec.tsNsec]).toEqual([12, 500_000_000]);
  });

  it('reports a record cut by the end of the file: error by default, flagged on request', () => {
    const whole = buildPcap({ records: [{ data: frameOf(60, 1) }, { data: frameOf(100, 2) }] });
    const cut = whole.subarray(0, whole.length - 30);
    const strict = openCapture(cut);
    const rec = createCaptureRecord();
    expect(strict.next(rec)).toBe(true);
    expect(() => strict.next(rec)).toThrow(CaptureFormatError);
    expect(() => [...openCapture(cut)]).toThrow(/record 1 at byte 100: caplen 100 but only 70 bytes left/);
    expect(strict.truncatedAt).toBe(100);
    expect(strict.next(rec)).toBe(false);

    const lenient = [...openCapture(cut, { truncated: 'flag' })];
    expect(lenient).toHaveLength(2);
    expect(lenient[1]).toMatchObject({ truncated: true, caplen: 70, origLen: 100 });
    expect(lenient[1].data).toEqual(frameOf(100, 2).subarray(0, 70));
  });

  it('reports a partial record header at the end', () => {
    const whole = buildPcap({ records: [{ data: frameOf(60, 1) }] });
    const cut = new Uint8Array(whole.length + 9);
    cut.set(whole);
    expect(() => [...openCapture(cut)]).toThrow(/file ends inside the record header \(9 of 16 bytes\)/);
    const reader = openCapture(cut, { truncated: 'flag' });
    expect([...reader]).toHaveLength(1);
    expect(reader.truncatedAt).toBe(whole.length);
  });

  it('reads a header-only file as empty', () => {
    expect([...openCapture(buildPcap({}))]).toEqual([]);
  });

  it('rejects malformed headers with CaptureFormatError', () => {
    const header = buildPcap({});
    const cases: Array<[Uint8Array, RegExp]> = [
      [header.subarray(0, 23), /shorter than the 24-byte global header/],
      [buildPcap({ magic: 0xa1b2c3d5 }), /unknown magic 0xa1b2c3d5/],
      [buildPcap({ magic: 0xa1b2cd34 }), /modified \(Kuznetzov\)/],
      [buildPcap({ versionMajor: 1 }), /unsupported version 1\.4/],
      [buildPcap({ le: false, versionMajor: 3 }), /unsupported version 3\.4/],
      [new Uint8Array(3), /too short to hold a magic/],
    ];
    for (const [bytes, msg] of cases) {
      let caught: unknown;
      try {
        openCapture(bytes);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(CaptureFormatError);
      expect((caught as CaptureFormatError).code).toBe('NFVKIT_ERR_CAPTURE_FORMAT');
      expect((caught as Error).message).toMatch(msg);
    }
    expect(() => new PcapReader(buildPcap({ magic: 0 }))).toThrow(/pcap: bad magic 0x00000000/);
  });
});
