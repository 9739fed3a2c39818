import { describe, expect, it } from 'vitest';
import { compileFilter } from '../../../src/capture/packet-filter.ts';
import { PacketPool } from '../../../src/pool/packet-pool.ts';
import { TraceMarker } from '../../../src/trace/trace-marker.ts';
import { rewritesBetween, formatSnapshot } from '../../../src/trace/trace-format.ts';
import { traceFrames as frames, traceMarks } from '../../support/trace-frames.ts';

describe('TraceMarker', () => {
  it('marks the first count frames the filter passes with session and seq, every other entering frame with the session alone', () => {
    const pool = PacketPool.create({ bufferCount: 32, owner: 1 });
    const marker = new TraceMarker(5, compileFilter('udp'), 2);
    const ids = frames(pool, [6, 17, 6, 17, 17]);
    marker.mark(pool, ids, 3, 0);
    marker.mark(pool, ids.subarray(3), 2, 1);
    expect(traceMarks(pool, ids)).toEqual(['50000', '50001', '50000', '50002', '50000']);
    expect(marker.issued).toBe(2);
    expect(marker.entries.map((e) => [e.side, e.packet])).toEqual([
      ['inside', 'udp 198.18.1.1:1001 > 198.18.2.100:53 len 42'],
      ['outside', 'udp 198.18.1.3:1003 > 198.18.2.100:53 len 42'],
    ]);
    // Leaving: only this session's traced frames count; a forged seq beyond those issued does not.
    pool.meta.trace[ids[4]] = (5 << 16) | 9;
    marker.exited(pool, ids, 5);
    expect([...marker.left]).toEqual([0, 1, 1]);
  });

  it('refuses a session or a count outside 16 bits', () => {
    expect(() => new TraceMarker(0, compileFilter(''), 1)).toThrow(/session 0 outside/);
    expect(() => new TraceMarker(1, compileFilter(''), 70_000)).toThrow(/count 70000 outside/);
  });
});

describe('trace formatting', () => {
  const before = { src: 0xc6120105, dst: 0xc6120264, sport: 40000, dport: 80, proto: 6, tcpFlags: 2, ttl: 64, len: 60 };
  it('names each rewritten field, and nothing when nothing changed', () => {
    expect(rewritesBetween(before, before)).toEqual([]);
    expect(rewritesBetween(before, { ...before, dst: 0xc612030c, dport: 8080, ttl: 63 })).toEqual(['ip.dst 198.18.2.100 -> 198.18.3.12', 'tcp.dport 80 -> 8080', 'ip.ttl 64 -> 63']);
    expect(formatSnapshot(before)).toBe('tcp 198.18.1.5:40000 > 198.18.2.100:80 [S] ttl 64 len 60');
    expect(formatSnapshot({ ...before, src: 0, dst: 0, proto: 0 })).toBe('non-IPv4 len 60');
  });
});
