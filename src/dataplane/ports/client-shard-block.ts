/**
 * The words through which the host hands a generator's flow shards to the replicas that
 * run the chain's ends (ports in the replicas). Flow `f` belongs to shard `f mod shards`.
 * One block per chain, in the data plane's shared memory:
 *
 * ```
 * int32  [0]                  sequence: odd while the host rewrites the owners, even when stable
 * int32  [1]                  shard count (fixed when the chain is applied)
 * int32  [2 … 2+S)            owner of each shard: the member number of the replica that should
 *                             carry it, -1 for none (written by the host only)
 * int32  [2+S … 2+2S)         holder of each shard: the member that carries it now, -1 when
 *                             free; a replica takes a free shard it owns (compare-and-swap
 *                             -1 → itself) and frees it once it closed the shard's flows; the
 *                             host frees the shards of a replica that is gone
 * int32  [2+2S … 2+3S)        connection generation of each shard: +1 at every take (the taker's
 *                             flows open with fresh source ports; > 0 means the flows moved)
 * float64 after, aligned:     frames each shard sent in all (written by its holder only), so
 *                             a `total` is never exceeded across moves
 * ```
 *
 * Every replica can write this block, so nothing a replica reads from it is trusted beyond
 * its bounds: the shard count must equal the one the host gave it privately, and it only
 * ever compares an owner or holder word with its own member number.
 */

/** Words before the per-shard arrays. */
export const SHARD_BLOCK_HEADER_WORDS = 2;

/** Word index of the sequence. */
export const SHARD_SEQ = 0;
/** Word index of the shard count. */
export const SHARD_COUNT = 1;

/** Most shards a chain's generator flows are split into. */
export const MAX_CLIENT_SHARDS = 4096;

/** No replica (an owner or holder word). */
export const NO_MEMBER = -1;

/** Where each part of a block of `shards` shards lies. */
export interface ShardBlockLayout {
  readonly shards: number;
  /** Int32 index of the first owner word. */
  readonly owners: number;
  /** Int32 index of the first holder word. */
  readonly holders: number;
  /** Int32 index of the first generation word. */
  readonly generations: number;
  /** Float64 index of the first per-shard sent counter. */
  readonly sent: number;
  /** Bytes of the whole block. */
  readonly bytes: number;
}

/** The layout of a block of `shards` shards (1 … `MAX_CLIENT_SHARDS`). */
export function shardBlockLayout(shards: number): ShardBlockLayout {
  if (!Number.isInteger(shards) || shards < 1 || shards > MAX_CLIENT_SHARDS) throw new RangeError(`shard count ${shards} outside 1…${MAX_CLIENT_SHARDS}`);
  const words = SHARD_BLOCK_HEADER_WORDS + 3 * shards;
  const sentByte = Math.ceil((words * 4) / 8) * 8;
  return { shards, owners: SHARD_BLOCK_HEADER_WORDS, holders: SHARD_BLOCK_HEADER_WORDS + shards, generations: SHARD_BLOCK_HEADER_WORDS + 2 * shards, sent: sentByte / 8, bytes: sentByte + 8 * shards };
}

/**
 * Writes a fresh block into `sab` (every shard unowned and free, nothing sent): the host,
 * before any replica sees it.
 */
export function initShardBlock(sab: SharedArrayBuffer, layout: ShardBlockLayout): void {
  const words = new Int32Array(sab, 0, layout.sent * 2);
  words.fill(0);
  words[SHARD_COUNT] = layout.shards;
  words.fill(NO_MEMBER, layout.owners, layout.owners + 2 * layout.shards);
  new Float64Array(sab, layout.sent * 8, layout.shards).fill(0);
}

/**
 * Publishes new owners (`owners[s]`: a member number or `NO_MEMBER`) under the sequence
 * word: odd while written, even after, so a replica copies them only when the sequence was
 * even and unchanged across its copy. Returns the new (even) sequence.
 */
export function publishShardOwners(sab: SharedArrayBuffer, layout: ShardBlockLayout, owners: ArrayLike<number>): number {
  const words = new Int32Array(sab, 0, layout.sent * 2);
  const seq = Atomics.add(words, SHARD_SEQ, 1) + 1;
  for (let s = 0; s < layout.shards; s++) Atomics.store(words, layout.owners + s, owners[s]);
  Atomics.store(words, SHARD_SEQ, seq + 1);
  return seq + 1;
}

/** Frees every shard `member` still holds (the host, once that replica is gone); returns how many. */
export function releaseShardsOf(sab: SharedArrayBuffer, layout: ShardBlockLayout, member: number): number {
  const words = new Int32Array(sab, 0, layout.sent * 2);
  let n = 0;
  for (let s = 0; s < layout.shards; s++) if (Atomics.compareExchange(words, layout.holders + s, member, NO_MEMBER) === member) n++;
  return n;
}

/** How many shards `member` holds now. */
export function shardsHeldBy(sab: SharedArrayBuffer, layout: ShardBlockLayout, member: number): number {
  const words = new Int32Array(sab, 0, layout.sent * 2);
  let n = 0;
  for (let s = 0; s < layout.shards; s++) if (Atomics.load(words, layout.holders + s) === member) n++;
  return n;
}
