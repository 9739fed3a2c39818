import { describe, expect, it } from 'vitest';
import { compileFilter, MAX_FILTER_LENGTH } from '../../../src/capture/packet-filter.ts';
import { PacketPool } from '../../../src/pool/packet-pool.ts';
import { IngressMarker } from '../../../src/trace/ingress-marker.ts';
import { INGRESS_TRACE_BYTES, IngressWord } from '../../../src/trace/ingress-trace-layout.ts';
import { ReplicaTraceMarker } from '../../../src/trace/replica-trace-marker.ts';
import { traceFrames as frames, traceMarks as hex } from '../../support/trace-frames.ts';

describe('IngressMarker (replica ports) and ReplicaTraceMarker (host)', () => {
  it('marks nothing with no session on, then the first count matching frames across replicas sharing the block, the host reading their entries in seq order', () => {
    const pool = PacketPool.create({ bufferCount: 32, owner: 1 });
    const block = new SharedArrayBuffer(INGRESS_TRACE_BYTES);
    const a = new IngressMarker(block);
    const b = new IngressMarker(block);
    const ids = frames(pool, [6, 17, 6, 17, 17, 17]);
    a.entered(pool, ids, 2, 0);
    expect(hex(pool, ids.subarray(0, 2))).toEqual(['deadbeef', 'deadbeef']);

    const host = new ReplicaTraceMarker(7, compileFilter('udp'), 'udp', 2, block);
    host.arm();
    a.entered(pool, ids, 2, 0); // tcp, udp → seq 1
    b.entered(pool, ids.subarray(2), 2, 1); // tcp, udp → seq 2
    a.entered(pool, ids.subarray(4), 2, 0); // count reached: session mark only
    expect(hex(pool, ids)).toEqual(['70000', '70001', '70000', '70002', '70000', '70000']);
    expect(Atomics.load(new Int32Array(block), IngressWord.CLAIMED) & 0xffff).toBe(2);
    host.sync();
    expect(host.issued).toBe(2);
    expect(host.entries.map((e) => [e.side, e.packet])).toEqual([
      ['inside', 'udp 198.18.1.1:1001 > 198.18.2.100:53 len 42'],
      ['outside', 'udp 198.18.1.3:1003 > 198.18.2.100:53 len 42'],
    ]);
    // Leaving through either replica's port: only this session's traced frames; a forged seq beyond the count does not.
    pool.meta.trace[ids[4]] = (7 << 16) | 9;
    b.left(pool, ids.subarray(3), 3);
    host.sync();
    expect([...host.left]).toEqual([0, 0, 1]);
    a.left(pool, ids, 2);
    host.sync();
    expect([...host.left]).toEqual([0, 1, 1]);
    host.disarm();
    const more = frames(pool, [17]);
    a.entered(pool, more, 1, 0);
    expect(hex(pool, more)).toEqual(['deadbeef']);
  });

  it('traces nothing when the block holds a filter length out of range or a count it has no entries for', () => {
    const pool = PacketPool.create({ bufferCount: 32, owner: 1 });
    const block = new SharedArrayBuffer(INGRESS_TRACE_BYTES);
    const words = new Int32Array(block);
    const marker = new IngressMarker(block);
    const host = new ReplicaTraceMarker(3, compileFilter(''), '', 1, block);
    host.arm();
    words[IngressWord.FILTER_LENGTH] = MAX_FILTER_LENGTH + 1;
    const ids = frames(pool, [17]);
    marker.entered(pool, ids, 1, 0);
    expect(hex(pool, ids)).toEqual(['30000']);
    const next = new ReplicaTraceMarker(4, compileFilter(''), '', 1, block);
    next.arm();
    words[IngressWord.COUNT] = 100_000;
    marker.entered(pool, ids, 1, 0);
    expect(hex(pool, ids)).toEqual(['40000']);
    next.sync();
    expect(next.issued).toBe(0);
  });

  it('refuses a block too small, a count above its entries and a filter too long', () => {
    expect(() => new IngressMarker(new SharedArrayBuffer(64))).toThrow(/smaller than/);
    const block = new SharedArrayBuffer(INGRESS_TRACE_BYTES);
    expect(() => new ReplicaTraceMarker(1, compileFilter(''), '', 5000, block)).toThrow(/count 5000 above/);
    expect(() => new ReplicaTraceMarker(1, compileFilter(''), 'x'.repeat(MAX_FILTER_LENGTH + 1), 1, block)).toThrow(/longer than/);
  });
});
