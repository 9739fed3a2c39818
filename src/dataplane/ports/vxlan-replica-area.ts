import { SharedLayoutError } from '../../errors/catalog.ts';
import { STEERING_BUCKETS } from '../../io/reuseport-steering.ts';

/**
 * The shared area of one VXLAN end whose replicas each bind a socket of one SO_REUSEPORT
 * group (`VxlanReplicaGroup` lays it out and writes its steering part on the host;
 * `VxlanReplicaShare` reads it in each replica). Int32 words:
 *
 * - a header (`AreaWord`): the steering sequence (a seqlock: odd while the host writes),
 *   the group's size, the member that attaches the program, the key, the port-shard
 *   parameters, and what the attaching replica reports back;
 * - the socket index of each member (`-1`: not in the group), the socket of each NAT port
 *   shard, the owner of each of the `STEERING_BUCKETS` hash buckets and its two previous
 *   holders (member numbers, `-1`: none; `VxlanReplicaGroup` moves as few as it can when
 *   the group changes), the steering program (`udpSteer`'s two words per instruction);
 * - the membership log: `member + 1` when a replica's socket joined the group, `-(member +
 *   1)` when it left, written under `LOCK` right after the bind or close, so its order is
 *   the order in which the kernel saw them (a socket closed by a crashing process is not in
 *   it: the host removes that member when it learns of the failure);
 * - one neighbour ring per member: a single-writer log of the neighbours that replica's
 *   gateway learned (`[seq, epoch, 0, 0]`, then `RING_ENTRY_WORDS` per entry), which every
 *   other replica reads from its own cursor and adopts (`GatewayEdge.adopt`). The host
 *   bumps a ring's epoch (and zeroes its seq) before a new replica takes the member number;
 * - one handoff ring per ordered pair of members (`handoffRingAt(layout, from, to)`): a
 *   single-producer single-consumer ring of datagrams replica `from` received for a flow
 *   replica `to` holds: `[tail (written by from), head (written by to), 0, 0]`, then
 *   `handoffSlots` slots of `HANDOFF_SLOT_WORDS` (`[length, outer source address, outer
 *   source port, hops]`, then the datagram's bytes). Both counters run free (int32 wrap); a
 *   replica taking a member number continues from the counters it finds.
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
  /** Slots of each handoff ring (checked by readers, who take the layout from it). */
  HANDOFF_SLOTS: 14,
} as const;

/** Records the membership log holds (a host reading it less often than this many changes loses its place). */
export const AREA_LOG_CAPACITY = 1024;

/** `AreaWord.KEY` codes. */
export const SteerBy = { INNER_SOURCE: 0, INNER_DESTINATION: 1, PORT_SHARD: 2 } as const;

/** Words before the member indexes. */
export const AREA_HEADER_WORDS = 16;
/** Most NAT port shards a port-shard key names. */
export const AREA_MAX_SHARDS = 256;
/** Room for the steering program, words (a port-shard program over 256 shards with a bucket table of 256 runs takes about 2,800). */
export const AREA_PROGRAM_WORDS = 4096;
/** Words of one learned neighbour: width (1 or 4), k0..k3, MAC high 16 bits, MAC low 32 bits, peer. */
export const RING_ENTRY_WORDS = 8;
/** Words before a ring's entries: seq, epoch, and two spare. */
export const RING_HEADER_WORDS = 4;
/** Entries per member ring (learning is rare: a burst of new neighbours at most). */
export const DEFAULT_RING_CAPACITY = 64;
/** Words before a handoff ring's slots: tail (the writer's), head (the reader's), two spare. */
export const HANDOFF_HEADER_WORDS = 4;
/** Words of a handoff slot before the datagram: length, outer source address, outer source port, hops (handoffs it took so far). */
export const HANDOFF_SLOT_HEADER_WORDS = 4;
/** Bytes of a datagram a handoff slot holds (a pool buffer's largest receive fits). */
export const HANDOFF_DATA_BYTES = 2112;
/** Words of one handoff slot. */
export const HANDOFF_SLOT_WORDS = HANDOFF_SLOT_HEADER_WORDS + HANDOFF_DATA_BYTES / 4;
/** Slots per handoff ring: datagrams one replica hands another between two of the receiver's loop turns. */
export const DEFAULT_HANDOFF_SLOTS = 64;

/** Where everything lies in an area for `members` member slots. */
export interface VxlanReplicaAreaLayout {
  readonly members: number;
  readonly ringCapacity: number;
  readonly handoffSlots: number;
  /** Word offsets. */
  readonly indexAt: number;
  readonly shardAt: number;
  /** Owner of each bucket (`STEERING_BUCKETS` words). */
  readonly ownerAt: number;
  /** Previous holder of each bucket (`STEERING_BUCKETS` words). */
  readonly previousAt: number;
  /** The holder before the previous one (`STEERING_BUCKETS` words). */
  readonly previous2At: number;
  readonly programAt: number;
  readonly logAt: number;
  readonly ringsAt: number;
  readonly ringWords: number;
  /** First handoff ring (`handoffRingAt`). */
  readonly handoffAt: number;
  readonly handoffRingWords: number;
  readonly bytes: number;
}

/** The layout for `members` member slots (1…256), neighbour rings of `ringCapacity` entries and handoff rings of `handoffSlots` slots. */
export function vxlanReplicaAreaLayout(members: number, ringCapacity = DEFAULT_RING_CAPACITY, handoffSlots = DEFAULT_HANDOFF_SLOTS): VxlanReplicaAreaLayout {
  if (!Number.isInteger(members) || members < 1 || members > 256) throw new SharedLayoutError(`a VXLAN replica area has 1..256 member slots, not ${members}`);
  if (!Number.isInteger(ringCapacity) || ringCapacity < 1 || ringCapacity > 4096) throw new SharedLayoutError(`a neighbour ring holds 1..4096 entries, not ${ringCapacity}`);
  if (!Number.isInteger(handoffSlots) || handoffSlots < 1 || handoffSlots > 1024) throw new SharedLayoutError(`a handoff ring holds 1..1024 slots, not ${handoffSlots}`);
  const indexAt = AREA_HEADER_WORDS;
  const shardAt = indexAt + members;
  const ownerAt = shardAt + AREA_MAX_SHARDS;
  const previousAt = ownerAt + STEERING_BUCKETS;
  const previous2At = previousAt + STEERING_BUCKETS;
  const programAt = previous2At + STEERING_BUCKETS;
  const logAt = programAt + AREA_PROGRAM_WORDS;
  const ringsAt = logAt + AREA_LOG_CAPACITY;
  const ringWords = RING_HEADER_WORDS + ringCapacity * RING_ENTRY_WORDS;
  const handoffAt = ringsAt + members * ringWords;
  const handoffRingWords = HANDOFF_HEADER_WORDS + handoffSlots * HANDOFF_SLOT_WORDS;
  const bytes = (handoffAt + members * members * handoffRingWords) * 4;
  return { members, ringCapacity, handoffSlots, indexAt, shardAt, ownerAt, previousAt, previous2At, programAt, logAt, ringsAt, ringWords, handoffAt, handoffRingWords, bytes };
}

/** Word offset of the handoff ring from member `from` to member `to` (both checked by the caller). */
export function handoffRingAt(layout: VxlanReplicaAreaLayout, from: number, to: number): number {
  return layout.handoffAt + (from * layout.members + to) * layout.handoffRingWords;
}

/** The handoff slots an area was laid out with (its header says; 0 before the host wrote it: the default). */
export function areaHandoffSlots(area: SharedArrayBuffer): number {
  if (area.byteLength < AREA_HEADER_WORDS * 4) throw new SharedLayoutError(`VXLAN replica area of ${area.byteLength} B has no header`);
  const slots = Atomics.load(new Int32Array(area, 0, AREA_HEADER_WORDS), AreaWord.HANDOFF_SLOTS);
  return slots === 0 ? DEFAULT_HANDOFF_SLOTS : slots;
}

/** The area as words, checked against `layout` (a shorter buffer or another member count throws `SharedLayoutError`). */
export function areaWords(area: SharedArrayBuffer, layout: VxlanReplicaAreaLayout): Int32Array {
  if (area.byteLength < layout.bytes) throw new SharedLayoutError(`VXLAN replica area of ${area.byteLength} B is smaller than ${layout.bytes} B`);
  const words = new Int32Array(area, 0, layout.bytes / 4);
  const m = Atomics.load(words, AreaWord.MEMBERS);
  const slots = Atomics.load(words, AreaWord.HANDOFF_SLOTS);
  if (m !== 0 && (m !== layout.members || Atomics.load(words, AreaWord.RING_CAPACITY) !== layout.ringCapacity || (slots !== 0 && slots !== layout.handoffSlots))) {
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
