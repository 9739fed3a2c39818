import { describe, expect, it } from 'vitest';
import { FrameTuple } from '../../../src/capture/frame-tuple.ts';
import { compileFilter } from '../../../src/capture/packet-filter.ts';
import { PacketPool } from '../../../src/pool/packet-pool.ts';
import type { PoolHandle } from '../../../src/pool/pool-handle.ts';
import { markEntering, type SeqClaims } from '../../../src/trace/entering-marks.ts';
import { traceFrames, traceMarks } from '../../support/trace-frames.ts';

class Claims implements SeqClaims {
  recorded: [number, number, number, number][] = [];
  constructor(private left: number) {}
  private next = 0;
  claim(): number {
    return this.left-- > 0 ? ++this.next : 0;
  }
  record(seq: number, _pool: PoolHandle, off: number, len: number, tuple: FrameTuple, side: number): void {
    this.recorded.push([seq, tuple.sport, side * 1000 + len, off]);
  }
}

describe('markEntering', () => {
  it('marks matches with seqs while claims last, every other frame with the session, and skips frames whose metadata leaves the buffer', () => {
    const pool = PacketPool.create({ bufferCount: 8, owner: 1 });
    const ids = traceFrames(pool, [17, 17, 17, 17, 17]);
    pool.meta.dataOff[ids[1]] = pool.stride + 1;
    const claims = new Claims(2);
    expect(markEntering(pool, ids, 5, 0x30000, compileFilter('udp'), new FrameTuple(), claims, 1)).toBe(false);
    expect(traceMarks(pool, ids)).toEqual(['30001', '30000', '30002', '30000', '30000']);
    expect(claims.recorded).toEqual([
      [1, 1000, 1042, pool.dataOffset(ids[0])],
      [2, 1002, 1042, pool.dataOffset(ids[2])],
    ]);
    expect(markEntering(pool, ids, 5, 0x40000, null, new FrameTuple(), claims, 0)).toBe(true);
    expect([...ids].every((id) => pool.meta.trace[id] === 0x40000)).toBe(true);
  });
});
