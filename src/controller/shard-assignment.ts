import { NO_MEMBER } from '../dataplane/ports/client-shard-block.ts';

/**
 * Shards for a chain's generator flows when its ends run in the replicas: 60 divides evenly
 * among 1 to 6 replicas (and 10, 12, 15 …), so the replicas' shares stay equal.
 */
export const GENERATOR_SHARDS = 60;

/**
 * Gives each of `members` its share of the shards, moving as few as can be: every member
 * gets ⌊S/M⌋ or ⌈S/M⌉ shards (the larger shares go to the members that hold the most
 * already, then to the lower numbers); a member keeps its current shards up to its share
 * (lowest shard numbers first), and only shards of members that are gone or over their
 * share move, to members under theirs in member order. No member: every shard unowned.
 * `owners[s]` is shard s's member number or `NO_MEMBER`.
 *
 * @example
 * ```ts
 * assignShards([0, 0, 0, 0], [0, 1]); // [0, 0, 1, 1]
 * assignShards([0, 0, 1, 1], [1]);    // [1, 1, 1, 1]
 * ```
 */
export function assignShards(owners: readonly number[], members: readonly number[]): number[] {
  const S = owners.length;
  const next = new Array<number>(S).fill(NO_MEMBER);
  const M = members.length;
  if (M === 0) return next;
  const held = new Map<number, number[]>(members.map((m) => [m, []]));
  for (let s = 0; s < S; s++) held.get(owners[s])?.push(s);
  const base = Math.floor(S / M);
  const extra = S % M;
  const byHolding = [...members].sort((a, b) => held.get(b)!.length - held.get(a)!.length || a - b);
  const share = new Map<number, number>(byHolding.map((m, k) => [m, base + (k < extra ? 1 : 0)]));
  const count = new Map<number, number>();
  for (const m of members) {
    const keep = held.get(m)!.slice(0, share.get(m)!);
    for (const s of keep) next[s] = m;
    count.set(m, keep.length);
  }
  const order = [...members].sort((a, b) => a - b);
  let k = 0;
  for (let s = 0; s < S; s++) {
    if (next[s] !== NO_MEMBER) continue;
    while (count.get(order[k])! >= share.get(order[k])!) k++;
    next[s] = order[k];
    count.set(order[k], count.get(order[k])! + 1);
  }
  return next;
}

/** How many shards change owner between `before` and `after`. */
export function shardsMoved(before: readonly number[], after: readonly number[]): number {
  let n = 0;
  for (let s = 0; s < before.length; s++) if (before[s] !== after[s]) n++;
  return n;
}
