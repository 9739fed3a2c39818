import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CaptureFormatError } from '../../src/errors/catalog.ts';
import { createCaptureRecord } from '../../src/pcap/capture-record.ts';
import { openCapture } from '../../src/pcap/open-capture.ts';
import { PcapWriter } from '../../src/pcap/pcap-writer.ts';
import {
  block, buildPcap, concat, epb, frameOf, idb, pb, shb, spb, text, u64, u8,
} from '../unit/pcap/capture-builder.ts';

function seeds(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const le of [true, false]) {
    out.push(buildPcap({ le, records: [{ data: frameOf(60, 1), sec: 5, frac: 7 }, { data: frameOf(20, 2) }, { data: frameOf(3, 3), origLen: 0 }] }));
    out.push(buildPcap({ le, nano: true, snaplen: 16, linkField: 0x34000001, records: [{ data: frameOf(40, 4), origLen: 30 }] }));
    out.push(
      concat([
        shb(le, [{ code: 4, value: text('fuzz') }]),
        idb(le, 1, 0, [{ code: 9, value: u8(9) }, { code: 14, value: u64(-5n, le) }, { code: 2, value: text('eth0') }]),
        idb(le, 101, 64, [{ code: 9, value: u8(0x80 | 20) }, { code: 13, value: u8(4) }]),
        epb(le, 0, 0x17a2b, 0x3c4d5e6f, frameOf(61, 5), 70, [{ code: 1, value: text('c') }]),
        block(le, 5, frameOf(20, 6)),
        spb(le, frameOf(33, 7)),
        pb(le, 1, 0, 99, frameOf(47, 8)),
        block(le, 4, frameOf(12, 9)),
        shb(!le),
        idb(!le, 1, 128),
        epb(!le, 0, 1, 2, frameOf(8, 10)),
      ]),
    );
  }
  const w = new PcapWriter({ resolution: 'nano', snaplen: 100 });
  for (let i = 0; i < 5; i++) w.write(frameOf(50 + i * 20, i), i, i * 1000);
  out.push(w.bytes().slice());
  for (const name of ['tcp-http', 'vlan']) {
    out.push(new Uint8Array(readFileSync(new URL(`../fixtures/pcap/${name}.pcap`, import.meta.url))));
  }
  return out;
}

const SEEDS = seeds();
const INTERESTING_U32 = [0, 1, 3, 4, 8, 11, 12, 16, 27, 28, 31, 32, 0x7fff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffc, 0xffffffff, 0x0a0d0d0a, 0x1a2b3c4d, 0xa1b2c3d4];

type Mutation =
  | { kind: 'flip'; at: number; mask: number }
  | { kind: 'u32'; at: number; value: number; le: boolean }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('u32' as const), at: fc.nat(), value: fc.oneof(fc.constantFrom(...INTERESTING_U32), fc.nat({ max: 0xffffffff })), le: fc.boolean() }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 12 }) }),
);

function mutate(seed: Uint8Array, mutations: Mutation[]): Uint8Array {
  let b: Uint8Array = seed.slice();
  for (const m of mutations) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    if (m.kind === 'flip') b[at] ^= m.mask;
    else if (m.kind === 'u32' && at + 4 <= b.length) new DataView(b.buffer).setUint32(at, m.value, m.le);
    else if (m.kind === 'truncate') b = b.slice(0, at);
    else if (m.kind === 'insert') b = concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
    else if (m.kind === 'delete') b = concat([b.subarray(0, at), b.subarray(at + m.count)]);
  }
  return b;
}

/** Reads everything under both truncation policies; only CaptureFormatError may escape. Returns records read. */
function readAll(bytes: Uint8Array): number {
  let count = 0;
  for (const truncated of ['throw', 'flag'] as const) {
    try {
      const reader = openCapture(bytes, { truncated });
      const rec = createCaptureRecord();
      let guard = 0;
      while (reader.next(rec)) {
        expect(rec.caplen).toBe(rec.data.length);
        expect(rec.offset).toBeGreaterThanOrEqual(0);
        expect(rec.offset + rec.caplen).toBeLessThanOrEqual(bytes.length);
        expect(rec.data.byteOffset - bytes.byteOffset).toBe(rec.offset);
        expect(rec.tsNsec >= 0 && rec.tsNsec < 1e9).toBe(true);
        expect(Number.isFinite(rec.tsSec)).toBe(true);
        expect(++guard).toBeLessThanOrEqual(bytes.length);
        count++;
      }
      expect(reader.next(rec)).toBe(false);
    } catch (err) {
      if (!(err instanceof CaptureFormatError)) throw err;
    }
  }
  return count;
}

describe('fuzz: pcap and pcapng reader', () => {
  it('every seed reads cleanly', () => {
    for (const s of SEEDS) expect(readAll(s)).toBeGreaterThan(0);
  });

  it('mutated files fail only with CaptureFormatError', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: SEEDS.length - 1 }), fc.array(mutationArb, { minLength: 1, maxLength: 6 }), (i, ms) => {
        readAll(mutate(SEEDS[i], ms));
      }),
      { numRuns: 4000 },
    );
  });

  it('random bytes behind a valid magic fail only with CaptureFormatError', () => {
    const magics = [u8(0xd4, 0xc3, 0xb2, 0xa1), u8(0xa1, 0xb2, 0xc3, 0xd4), u8(0x4d, 0x3c, 0xb2, 0xa1), u8(0x0a, 0x0d, 0x0d, 0x0a), u8(0x34, 0xcd, 0xb2, 0xa1), u8()];
    fc.assert(
      fc.property(fc.constantFrom(...magics), fc.uint8Array({ maxLength: 400 }), (magic, rest) => {
        readAll(concat([magic, rest]));
      }),
      { numRuns: 3000 },
    );
  });

  it('structured pcapng with random block types, lengths and options fails only with CaptureFormatError', () => {
    const blockArb = fc.record({
      type: fc.oneof(fc.constantFrom(1, 2, 3, 4, 5, 6, 10, 0x0a0d0d0a, 0xbad), fc.nat({ max: 0xffffffff })),
      body: fc.uint8Array({ maxLength: 64 }),
    });
    fc.assert(
      fc.property(fc.boolean(), fc.array(blockArb, { maxLength: 8 }), (le, blocks) => {
        readAll(concat([shb(le), idb(le, 1, 0), ...blocks.map((b) => block(le, b.type, b.body))]));
      }),
      { numRuns: 3000 },
    );
  });
});
