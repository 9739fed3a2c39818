import { describe, expect, it } from 'vitest';
import { NO_MEMBER } from '../../../src/dataplane/ports/client-shard-block.ts';
import { assignShards, GENERATOR_SHARDS, shardsMoved } from '../../../src/controller/shard-assignment.ts';

/** Deterministic pseudo-random numbers (xorshift). */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

describe('assignShards', () => {
  it('splits evenly, keeps what stays balanced, and moves only what must move', () => {
    const none = new Array<number>(GENERATOR_SHARDS).fill(NO_MEMBER);
    const one = assignShards(none, [0]);
    expect(one.every((m) => m === 0)).toBe(true);
    const two = assignShards(one, [0, 1]);
    expect(two.filter((m) => m === 1)).toHaveLength(30);
    expect(shardsMoved(one, two)).toBe(30);
    const three = assignShards(two, [0, 1, 2]);
    expect([0, 1, 2].map((m) => three.filter((o) => o === m).length)).toEqual([20, 20, 20]);
    expect(shardsMoved(two, three)).toBe(20);
    // Member 0 leaves: only its shards move.
    const back = assignShards(three, [1, 2]);
    expect(shardsMoved(three, back)).toBe(20);
    for (let s = 0; s < GENERATOR_SHARDS; s++) if (three[s] !== 0) expect(back[s]).toBe(three[s]);
    expect(assignShards(back, [])).toEqual(none);
  });

  it('over random joins and leaves: every shard owned by a member, shares within one, moves minimal', () => {
    const random = rng(12345);
    for (const S of [1, 7, 60, 64]) {
      let owners = new Array<number>(S).fill(NO_MEMBER);
      let members: number[] = [];
      for (let step = 0; step < 300; step++) {
        const candidates = Array.from({ length: 10 }, (_, m) => m);
        if (members.length === 0 || (random() < 0.5 && members.length < 10)) {
          const free = candidates.filter((m) => !members.includes(m));
          members = [...members, free[Math.floor(random() * free.length)]];
        } else {
          members = members.filter((_, k) => k !== Math.floor(random() * members.length));
        }
        const next = assignShards(owners, members);
        if (members.length === 0) {
          expect(next.every((m) => m === NO_MEMBER)).toBe(true);
          owners = next;
          continue;
        }
        const counts = members.map((m) => next.filter((o) => o === m).length);
        expect(next.every((m) => members.includes(m))).toBe(true);
        expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
        // The fewest moves any balanced assignment needs: the orphans, plus what each member
        // holds over its share, the larger shares going to those holding the most.
        const held = members.map((m) => owners.filter((o) => o === m).length).sort((x, y) => y - x);
        const floor = Math.floor(S / members.length);
        const fewest = owners.filter((m) => !members.includes(m)).length + held.reduce((n, h, rank) => n + Math.max(0, h - (floor + (rank < S % members.length ? 1 : 0))), 0);
        expect(shardsMoved(owners, next)).toBe(fewest);
        owners = next;
      }
    }
  });
});
