/**
 * FlowTable: a bounded open-addressing hash table from a directed IPv4 5-tuple to a u32,
 * in typed arrays, for per-packet NAT / load-balancer / dispatcher lookups.
 *
 * - Keys are plain numbers (no strings, no objects); lookup, insert and delete never
 *   allocate and never throw.
 * - Linear probing over a power-of-two slot array at most half full (`slotCount` ≥ 2 ×
 *   `capacity`), so probe sequences stay short and always end at an empty slot.
 * - Deletion is backward-shift (no tombstones), so performance does not decay under churn.
 * - Each slot is 32 bytes of one Int32Array (srcIp, dstIp, srcPort << 16 | dstPort, tag,
 *   value, hash, 2 auxiliary words), two slots per cache line, so a lookup touches one line; the tag
 *   holds 16 hash bits, an occupied bit and the protocol, so most mismatches are rejected
 *   by one compare. An empty slot has tag 0. The stored hash serves backward-shift deletion.
 * - Bounded: `insert` returns `FlowTableStatus.FULL` once `capacity` entries are stored.
 *
 * Hashing uses `flowHashDirected` with a per-table seed (the home slot of a key is
 * `flowHashDirected(…, seed) & (slotCount - 1)`): the key is direction-sensitive (a NAT
 * keeps one entry per direction).
 *
 * Addresses may be passed unsigned (0xC6120001) or as their int32 alias (`x | 0`): both
 * name the same key. On the per-packet path prefer `findKey(key)` or int32 addresses: a
 * number ≥ 2^31 passed to a call that V8 does not inline is boxed (an allocation).
 *
 * @example
 * ```ts
 * const nat = new FlowTable(65536);
 * if (nat.insert(client, vip, cport, 80, IpProto.TCP, backendIndex) === FlowTableStatus.FULL) drops++;
 * const slot = nat.find(client, vip, cport, 80, IpProto.TCP);
 * if (slot !== FLOW_NOT_FOUND) backendIndex = nat.value(slot);
 * nat.delete(client, vip, cport, 80, IpProto.TCP);
 * ```
 */
import { InvalidArgumentError } from '../errors/catalog.ts';
import { flowHashWords, type FlowKey } from '../packet/flow-key.ts';

/** Result of {@link FlowTable.insert}. */
export const FlowTableStatus = {
  /** A new entry was stored. */
  INSERTED: 0,
  /** The key existed; its value was replaced. */
  UPDATED: 1,
  /** The key is new and the table already holds `capacity` entries; nothing changed. */
  FULL: 2,
} as const;

/** Returned by {@link FlowTable.find} / {@link FlowTable.lookup} for a missing key. */
export const FLOW_NOT_FOUND = -1;

/** Largest supported capacity (entries). */
export const FLOW_TABLE_MAX_CAPACITY = 1 << 24;

/** Words per slot: srcIp, dstIp, ports, tag, value, hash, aux 0, aux 1. */
const SLOT_WORDS = 8;
const W_TAG = 3;
const W_VALUE = 4;
const W_HASH = 5;
const W_AUX = 6;

/** Bounded 5-tuple → u32 hash table; see the module documentation. */
export class FlowTable {
  /** Maximum number of entries. */
  readonly capacity: number;
  /** Number of slots (power of two, ≥ 2 × capacity). */
  readonly slotCount: number;
  private readonly mask: number;
  private readonly seed: number;
  /** The slots (layout above); protected for a subclass that moves entries into a bigger table (`LinkPinTable`). */
  protected readonly slots: Int32Array;
  private count: number;

  /**
   * @param capacity maximum entries, 1..2^24
   * @param seed hash seed (vary it per table to decorrelate tables sharing keys)
   * @throws InvalidArgumentError when capacity is out of range (construction only)
   */
  constructor(capacity: number, seed = 0x2545f491) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > FLOW_TABLE_MAX_CAPACITY) {
      throw new InvalidArgumentError(`flow table capacity must be an integer in 1..${FLOW_TABLE_MAX_CAPACITY}, got ${capacity}`);
    }
    let slots = 8;
    while (slots < capacity * 2) slots *= 2;
    this.capacity = capacity;
    this.slotCount = slots;
    this.mask = slots - 1;
    this.seed = seed | 0;
    this.slots = new Int32Array(slots * SLOT_WORDS);
    this.count = 0;
  }

  /** Number of entries stored. */
  get size(): number {
    return this.count;
  }

  /** Slot index holding the key, or {@link FLOW_NOT_FOUND}. */
  find(srcIp: number, dstIp: number, srcPort: number, dstPort: number, proto: number): number {
    return this.probe(srcIp | 0, dstIp | 0, ((srcPort & 0xffff) << 16) | (dstPort & 0xffff), proto & 0xff);
  }

  /**
   * {@link find} for a {@link FlowKey}: the allocation-free choice when the call is not inlined.
   *
   * Written as one self-contained function (hash and probe loop inline, no helper calls):
   * on the per-packet path it costs one call taking one object, and V8 does not spend the
   * caller's inlining budget on it, which the smaller per-packet helpers around it need
   * more (measured in bench/suites/packet.ts). Same hash and probe order as {@link find}.
   */
  findKey(key: FlowKey): number {
    const s = key.srcIp | 0;
    const d = key.dstIp | 0;
    const ports = ((key.srcPort & 0xffff) << 16) | (key.dstPort & 0xffff);
    const proto = key.proto & 0xff;
    // flowHashWords(s, d, ports, proto, seed), written out.
    const c1 = 0xcc9e2d51;
    const c2 = 0x1b873593;
    let h = this.seed ^ Math.imul(proto, 0x9e3779b1);
    let k = Math.imul(s, c1);
    h ^= Math.imul((k << 15) | (k >>> 17), c2);
    h = (((h << 13) | (h >>> 19)) * 5 + 0xe6546b64) | 0;
    k = Math.imul(d, c1);
    h ^= Math.imul((k << 15) | (k >>> 17), c2);
    h = (((h << 13) | (h >>> 19)) * 5 + 0xe6546b64) | 0;
    k = Math.imul(ports, c1);
    h ^= Math.imul((k << 15) | (k >>> 17), c2);
    h = (((h << 13) | (h >>> 19)) * 5 + 0xe6546b64) | 0;
    h ^= 12;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    h ^= h >>> 16;
    const tag = (h & 0xffff0000) | 0x100 | proto;
    const slots = this.slots;
    const mask = this.mask;
    let i = h & mask;
    for (;;) {
      const b = i << 3;
      const t = slots[b + W_TAG];
      if (t === 0) return FLOW_NOT_FOUND;
      if (t === tag && slots[b] === s && slots[b + 1] === d && slots[b + 2] === ports) return i;
      i = (i + 1) & mask;
    }
  }

  /** Probe loop on int32 key words (so no argument is ever a boxed double). */
  private probe(s: number, d: number, ports: number, proto: number): number {
    const h = flowHashWords(s, d, ports, proto, this.seed);
    const tag = (h & 0xffff0000) | 0x100 | proto;
    const slots = this.slots;
    const mask = this.mask;
    let i = h & mask;
    for (;;) {
      const b = i << 3;
      const t = slots[b + W_TAG];
      if (t === 0) return FLOW_NOT_FOUND;
      if (t === tag && slots[b] === s && slots[b + 1] === d && slots[b + 2] === ports) return i;
      i = (i + 1) & mask;
    }
  }

  /** Value stored for the key, or {@link FLOW_NOT_FOUND}. */
  lookup(srcIp: number, dstIp: number, srcPort: number, dstPort: number, proto: number): number {
    const slot = this.find(srcIp, dstIp, srcPort, dstPort, proto);
    return slot === FLOW_NOT_FOUND ? FLOW_NOT_FOUND : this.slots[(slot << 3) + W_VALUE] >>> 0;
  }

  /**
   * Value in an occupied slot returned by {@link find}. Values up to 2^31 - 1 (indices,
   * handles) come back as small integers; larger u32 values are doubles.
   */
  value(slot: number): number {
    return this.slots[(slot << 3) + W_VALUE] >>> 0;
  }

  /** Replaces the value in an occupied slot returned by {@link find}. */
  setValue(slot: number, value: number): void {
    this.slots[(slot << 3) + W_VALUE] = value | 0;
  }

  /**
   * Auxiliary word `which` (0 or 1) of an occupied slot: caller data that travels with the
   * entry (a last-seen time, flags). A new entry starts with both words 0.
   */
  aux(slot: number, which: 0 | 1): number {
    return this.slots[(slot << 3) + W_AUX + which];
  }

  /** Sets auxiliary word `which` (int32) of an occupied slot. */
  setAux(slot: number, which: 0 | 1, value: number): void {
    this.slots[(slot << 3) + W_AUX + which] = value | 0;
  }

  /**
   * Removes every entry for which `expired(slot)` is true (control plane: a periodic
   * sweep). `expired` may read the slot (`value`, `aux`) but must not change the table.
   * Returns how many entries were removed.
   */
  removeWhere(expired: (slot: number) => boolean): number {
    const slots = this.slots;
    let removed = 0;
    for (let i = 0; i < this.slotCount; i++) {
      // Backward shift may move a later entry into slot i: look at i again after a removal.
      while (slots[(i << 3) + W_TAG] !== 0 && expired(i)) {
        this.removeSlot(i);
        removed++;
      }
    }
    return removed;
  }

  /** Stores `value` for the key (insert or replace); returns a {@link FlowTableStatus} code. */
  insert(srcIp: number, dstIp: number, srcPort: number, dstPort: number, proto: number, value: number): number {
    return this.put(srcIp | 0, dstIp | 0, ((srcPort & 0xffff) << 16) | (dstPort & 0xffff), proto & 0xff, value);
  }

  /** {@link insert} for a {@link FlowKey}. */
  insertKey(key: FlowKey, value: number): number {
    return this.put(key.srcIp | 0, key.dstIp | 0, ((key.srcPort & 0xffff) << 16) | (key.dstPort & 0xffff), key.proto & 0xff, value);
  }

  private put(s: number, d: number, ports: number, proto: number, value: number): number {
    const h = flowHashWords(s, d, ports, proto, this.seed);
    const tag = (h & 0xffff0000) | 0x100 | proto;
    const slots = this.slots;
    const mask = this.mask;
    let i = h & mask;
    for (;;) {
      const b = i << 3;
      const t = slots[b + W_TAG];
      if (t === 0) {
        if (this.count >= this.capacity) return FlowTableStatus.FULL;
        slots[b] = s;
        slots[b + 1] = d;
        slots[b + 2] = ports;
        slots[b + W_TAG] = tag;
        slots[b + W_VALUE] = value | 0;
        slots[b + W_HASH] = h | 0;
        slots[b + W_AUX] = 0;
        slots[b + W_AUX + 1] = 0;
        this.count++;
        return FlowTableStatus.INSERTED;
      }
      if (t === tag && slots[b] === s && slots[b + 1] === d && slots[b + 2] === ports) {
        slots[b + W_VALUE] = value | 0;
        return FlowTableStatus.UPDATED;
      }
      i = (i + 1) & mask;
    }
  }

  /** Removes the key; returns false if it was not present. */
  delete(srcIp: number, dstIp: number, srcPort: number, dstPort: number, proto: number): boolean {
    const slot = this.find(srcIp, dstIp, srcPort, dstPort, proto);
    if (slot === FLOW_NOT_FOUND) return false;
    this.removeSlot(slot);
    return true;
  }

  /** {@link delete} for a {@link FlowKey}. */
  deleteKey(key: FlowKey): boolean {
    const slot = this.findKey(key);
    if (slot === FLOW_NOT_FOUND) return false;
    this.removeSlot(slot);
    return true;
  }

  /** Removes every entry. */
  clear(): void {
    this.slots.fill(0);
    this.count = 0;
  }

  /**
   * Backward-shift deletion: walk the cluster after the hole and move back every entry
   * whose home slot lies cyclically at or before the hole, so no probe path is broken.
   */
  private removeSlot(slot: number): void {
    const slots = this.slots;
    const mask = this.mask;
    let hole = slot;
    let j = (slot + 1) & mask;
    for (;;) {
      const b = j << 3;
      if (slots[b + W_TAG] === 0) break;
      const home = slots[b + W_HASH] & mask;
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        slots.copyWithin(hole << 3, b, b + SLOT_WORDS);
        hole = j;
      }
      j = (j + 1) & mask;
    }
    slots.fill(0, hole << 3, (hole << 3) + SLOT_WORDS);
    this.count--;
  }
}
