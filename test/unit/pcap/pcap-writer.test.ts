import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../src/errors/catalog.ts';
import { openCapture } from '../../../src/pcap/open-capture.ts';
import { PcapWriter } from '../../../src/pcap/pcap-writer.ts';
import { concat } from './capture-builder.ts';

const recordArb = fc.record({
  data: fc.uint8Array({ minLength: 0, maxLength: 300 }),
  sec: fc.integer({ min: 0, max: 0xffffffff }),
  nsec: fc.integer({ min: 0, max: 999_999_999 }),
  extra: fc.integer({ min: 0, max: 5000 }),
});

describe('PcapWriter', () => {
  it('writes the classic little-endian 2.4 header', () => {
    const micro = new PcapWriter({ initialCapacity: 8 }).bytes();
    expect(Array.from(micro)).toEqual([
      0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00, 0x04, 0x00, 1, 0, 0, 0,
    ]);
    const nano = new PcapWriter({ resolution: 'nano', linkType: 101, snaplen: 96 }).bytes();
    expect(Array.from(nano.subarray(0, 4))).toEqual([0x4d, 0x3c, 0xb2, 0xa1]);
    expect(Array.from(nano.subarray(16, 24))).toEqual([96, 0, 0, 0, 101, 0, 0, 0]);
  });

  for (const resolution of ['micro', 'nano'] as const) {
    it(`round-trips records through the reader (${resolution})`, () => {
      fc.assert(
        fc.property(fc.array(recordArb, { maxLength: 20 }), fc.integer({ min: 1, max: 400 }), (records, snaplen) => {
          const w = new PcapWriter({ resolution, snaplen, initialCapacity: 32 });
          for (const r of records) w.write(r.data, r.sec, r.nsec, r.data.length + r.extra);
          expect(w.records).toBe(records.length);
          const reader = openCapture(w.bytes());
          expect(reader.info).toMatchObject({ format: 'pcap', littleEndian: true, snaplen, linkType: 1 });
          expect(reader.info.interfaces[0].tsUnitsPerSecond).toBe(resolution === 'nano' ? 1e9 : 1e6);
          const back = [...reader];
          expect(back).toHaveLength(records.length);
          back.forEach((rec, i) => {
            const r = records[i];
            const kept = Math.min(r.data.length, snaplen);
            expect(rec.caplen).toBe(kept);
            expect(rec.origLen).toBe(r.data.length + r.extra);
            expect(rec.data).toEqual(r.data.subarray(0, kept));
            expect(rec.tsSec).toBe(r.sec);
            expect(rec.tsNsec).toBe(resolution === 'nano' ? r.nsec : Math.floor(r.nsec / 1000) * 1000);
          });
        }),
        { numRuns: 150 },
      );
    });
  }

  it('drains in pieces that concatenate to the whole file', () => {
    const w = new PcapWriter({ initialCapacity: 24 });
    const whole = new PcapWriter();
    const pieces: Uint8Array[] = [];
    for (let i = 0; i < 50; i++) {
      const frame = new Uint8Array(60 + i).fill(i);
      w.write(frame, i, i * 1000);
      whole.write(frame, i, i * 1000);
      if (i % 7 === 0) pieces.push(w.drain());
    }
    pieces.push(w.drain());
    expect(w.bytes().length).toBe(0);
    expect(concat(pieces)).toEqual(whole.bytes());
    expect([...openCapture(concat(pieces))].map((r) => r.tsSec)).toEqual([...Array(50).keys()]);
  });

  it('rejects out-of-range arguments', () => {
    const w = new PcapWriter();
    const f = new Uint8Array(10);
    expect(() => w.write(f, -1)).toThrow(InvalidArgumentError);
    expect(() => w.write(f, 2 ** 32)).toThrow(InvalidArgumentError);
    expect(() => w.write(f, 0, 1e9)).toThrow(InvalidArgumentError);
    expect(() => w.write(f, 0, 0.5)).toThrow(InvalidArgumentError);
    expect(() => w.write(f, 0, 0, -1)).toThrow(InvalidArgumentError);
    expect(() => new PcapWriter({ snaplen: 0 })).toThrow(InvalidArgumentError);
    expect(() => new PcapWriter({ linkType: 0x10000 })).toThrow(InvalidArgumentError);
    expect(w.records).toBe(0);
  });
});
