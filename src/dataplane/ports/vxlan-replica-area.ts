import { SharedLayoutError } from '../../errors/catalog.ts';

/**
 * The shared area of one VXLAN end whose replicas each bind a socket of one SO_REUSEPORT
 * group (`VxlanReplicaGroup` lays it out and writes its steering part on the host;
 * `VxlanReplicaShare` reads it in each replica). Int32 words:
 *
 * - a header (`AreaWord`): the steering sequence (a seqlock: odd while the host writes),
 *   the group's size, the member that attaches the program, the key, the port-shard
 *   parameters, and what the attaching replica reports back;
 * - the socket index of each member (`-1`: not in the group), the socket of each NAT port
 *   shard, the steering program (`udpSteer`'s two words per instruction);
 * - the membership log: `member + 1` when a replica's socket joined the group, `-(member +
 *   1)` when it left, written under `LOCK` right after the bind or close, so its order is
 *   the order in which the kernel saw them (a socket closed by a crashing process is not in
 *   it: the host removes that member when it learns of the failure);
 * - one neighbour ring per member: a single-writer log of the neighbours that replica's
 *   gateway learned (`[seq, epoch, 0, 0]`, then `RING_ENTRY_WORDS` per entry), which every
 *   other replica reads from its own cursor and adopts (`GatewayEdge.adopt`). The host
 *   bumps a ring's epoch (and zeroes its seq) before a new replica takes the member number.
 *
 * Every index and length a reader takes from the area is checked against the layout.
 *
 * @example
 * ```ts
 * const layout = vxlanReplicaAreaLayout(8);
 * const area = memory.allocate(layout.bytes);
 * ```
 */
export const AreaWord = {
  SEQ: 0,
  SIZE: 1,
  ATTACHER: 2,
  PROGRAM_WORDS: 3,
  /** `SteerBy` code. */
  KEY: 4,
  BASE: 5,
  SHARD_SIZE: 6,
  SHARD_COUNT: 7,
  /** Written by the attaching replica: the `SEQ` whose program it attached. */
  ATTACHED_SEQ: 8,
  /** Written by the attaching replica: attaches the kernel refused. */
  ATTACH_ERRORS: 9,
  /** Member slots of the layout (checked by readers against what they were built for). */
  MEMBERS: 10,
  RING_CAPACITY: 11,
  /** Held (member + 1) by a replica while it binds or closes its socket: one at a time, so the log's order is the kernel's. */
  LOCK: 12,
  /** Records written to the membership log. */
  LOG_COUNT: 13,
} as const;

/** Records the membership log holds (a host reading it less often than this many changes loses its place). */
export const AREA_LOG_CAPACITY = 1024;

/** `AreaWord.KEY` codes. */
export const SteerBy = { INNER_SOURCE: 0, INNER_DESTINATION: 1, PORT_SHARD: 2 } as const;

/** Words before the member indexes. */
export const AREA_HEADER_WORDS = 16;
/** Most NAT port shards a port-shard key names. */
export const AREA_MAX_SHARDS = 256;
/** Room for the steering program, words (a port-shard program over 256 shards takes about 1,100). */
export const AREA_PROGRAM_WORDS = 2048;
/** Words of one learned neighbour: width (1 or 4), k0..k3, MAC high 16 bits, MAC low 32 bits, peer. */
export const RING_ENTRY_WORDS = 8;
/** Words before a ring's entries: seq, epoch, and two spare. */
export const RING_HEADER_WORDS = 4;
/** Entries per member ring (learning is rare: a burst of new neighbours at most). */
export const DEFAULT_RING_CAPACITY = 64;

/** Where everything lies in an area for `members` member slots. */
export interface VxlanReplicaAreaLayout {
  readonly members: number;
  readonly ringCapacity: number;
  /** Word offsets. */
  readonly indexAt: number;
  readonly shardAt: number;
  readonly programAt: number;
  readonly logAt: number;
  readonly ringsAt: number;
  readonly ringWords: number;
  readonly bytes: number;
}

/** The layout for `members` member slots (1…256) and rings of `ringCapacity` entries. */
export function vxlanReplicaAreaLayout(members: number, ringCapacity = DEFAULT_RING_CAPACITY): VxlanReplicaAreaLayout {
  if (!Number.isInteger(members) || members < 1 || members > 256) throw new SharedLayoutError(`a VXLAN replica area has 1..256 member slots, not ${members}`);
  if (!Number.isInteger(ringCapacity) || ringCapacity < 1 || ringCapacity > 4096) throw new SharedLayoutError(`a neighbour ring holds 1..4096 entries, not ${ringCapacity}`);
  const indexAt = AREA_HEADER_WORDS;
  const shardAt = indexAt + members;
  const programAt = shardAt + AREA_MAX_SHARDS;
  const logAt = programAt + AREA_PROGRAM_WORDS;
  const ringsAt = logAt + AREA_LOG_CAPACITY;
  const ringWords = RING_HEADER_WORDS + ringCapacity * RING_ENTRY_WORDS;
  return { members, ringCapacity, indexAt, shardAt, programAt, logAt, ringsAt, ringWords, bytes: (ringsAt + members * ringWords) * 4 };
}

/** The area as words, checked against `layout` (a shorter buffer or another member count throws `SharedLayoutError`). */
export function areaWords(area: SharedArrayBuffer, layout: VxlanReplicaAreaLayout): Int32Array {
  if (area.byteLength < layout.bytes) throw new SharedLayoutError(`VXLAN replica area of ${area.byteLength} B is smaller than ${layout.bytes} B`);
  const words = new Int32Array(area, 0, layout.bytes / 4);
  const m = Atomics.load(words, AreaWord.MEMBERS);
  if (m !== 0 && (m !== layout.members || Atomics.load(words, AreaWord.RING_CAPACITY) !== layout.ringCapacity)) {
    throw new SharedLayoutError(`VXLAN replica area laid out for ${m} members, read as ${layout.members}`);
  }
  return words;
}

/** How long a replica waits for the membership lock before it gives up (the holder binds or closes one socket: microseconds), ms. */
export const AREA_LOCK_TIMEOUT_MS = 2000;

/**
 * Runs `body` holding the membership lock of every area in `areas` (taken in the order
 * given: callers pass inside before outside), then appends `record` to each area's log.
 * Returns false (running nothing) when a lock stayed held for `AREA_LOCK_TIMEOUT_MS`.
 */
export function underMembershipLock(areas: readonly { readonly words: Int32Array; readonly layout: VxlanReplicaAreaLayout }[], member: number, record: number, body: () => void): boolean {
  const held: Int32Array[] = [];
  const deadline = performance.now() + AREA_LOCK_TIMEOUT_MS;
  try {
    for (const { words } of areas) {
      while (Atomics.compareExchange(words, AreaWord.LOCK, 0, member + 1) !== 0) {
        if (performance.now() > deadline) return false;
        Atomics.wait(words, AreaWord.LOCK, Atomics.load(words, AreaWord.LOCK), 1);
      }
      held.push(words);
    }
    body();
    for (const { words, layout } of areas) {
      const n = Atomics.load(words, AreaWord.LOG_COUNT);
      words[layout.logAt + (n % AREA_LOG_CAPACITY)] = record;
      Atomics.store(words, AreaWord.LOG_COUNT, n + 1);
    }
    return true;
  } finally {
    for (const words of held) {
      Atomics.store(words, AreaWord.LOCK, 0);
      Atomics.notify(words, AreaWord.LOCK);
    }
  }
}
