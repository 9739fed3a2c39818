/**
 * A small read-mostly hash table from an L4 endpoint (protocol, IPv4 or IPv6 address, port)
 * to a non-negative integer: VIP → service index, backend endpoint → backend index. Both
 * families share one table: an IPv6 key carries a family bit, so an IPv4 endpoint never
 * finds an IPv6 one (or the reverse), whatever their address words. Open addressing with
 * linear probing over typed arrays, load ≤ 0.5; `find` and `find6` neither allocate nor
 * throw, so they run per packet. Filled once at start (control plane).
 *
 * @example
 * ```ts
 * const vips = new EndpointTable(2);
 * vips.add(6, 0xc6120064, 80, 0);
 * vips.add6(6, 0x20010db8, 0, 0, 0x100, 80, 1);
 * vips.find(6, 0xc6120064, 80);                  // 0
 * vips.find6(6, 0x20010db8, 0, 0, 0x100, 80);    // 1
 * vips.find(17, 0xc6120064, 80);                 // -1
 * ```
 */
export class EndpointTable {
  /** Entries stored. */
  size = 0;
  private readonly mask: number;
  /** Four address words per slot (IPv4: the address in the first, 0 in the others). */
  private readonly addrs: Int32Array;
  /** family bit (1 << 24 for IPv6) | proto << 16 | port of each slot. */
  private readonly keys: Int32Array;
  /** Value of each slot, -1 when empty. */
  private readonly values: Int32Array;

  /** @param expected most entries that will be added (the table never grows) */
  constructor(expected: number) {
    let slots = 8;
    while (slots < expected * 2) slots *= 2;
    this.mask = slots - 1;
    this.addrs = new Int32Array(slots * 4);
    this.keys = new Int32Array(slots);
    this.values = new Int32Array(slots).fill(-1);
  }

  /** Adds an IPv4 endpoint; returns false (table unchanged) if it is already present or the table is full. */
  add(proto: number, addr: number, port: number, value: number): boolean {
    return this.find(proto, addr, port) < 0 && this.put(key(proto, port), addr, 0, 0, 0, value);
  }

  /** Adds an IPv6 endpoint (address words, most significant first); false as {@link add}. */
  add6(proto: number, w0: number, w1: number, w2: number, w3: number, port: number, value: number): boolean {
    return this.find6(proto, w0, w1, w2, w3, port) < 0 && this.put(key(proto, port) | FAMILY6, w0, w1, w2, w3, value);
  }

  private put(k: number, w0: number, w1: number, w2: number, w3: number, value: number): boolean {
    if (this.size * 2 >= this.mask + 1) return false;
    let i = slotOf(k >= FAMILY6 ? fold(w0, w1, w2, w3) : w0 | 0, k) & this.mask;
    while (this.values[i] >= 0) i = (i + 1) & this.mask;
    this.addrs[i << 2] = w0;
    this.addrs[(i << 2) + 1] = w1;
    this.addrs[(i << 2) + 2] = w2;
    this.addrs[(i << 2) + 3] = w3;
    this.keys[i] = k;
    this.values[i] = value;
    this.size++;
    return true;
  }

  /** The value stored for the IPv4 endpoint, or -1. */
  find(proto: number, addr: number, port: number): number {
    const k = key(proto, port);
    const a = addr | 0;
    const mask = this.mask;
    let i = slotOf(a, k) & mask;
    for (;;) {
      const v = this.values[i];
      if (v < 0) return -1;
      if (this.addrs[i << 2] === a && this.keys[i] === k) return v;
      i = (i + 1) & mask;
    }
  }

  /** The value stored for the IPv6 endpoint (address words, signed or unsigned), or -1. */
  find6(proto: number, w0: number, w1: number, w2: number, w3: number, port: number): number {
    const k = key(proto, port) | FAMILY6;
    const mask = this.mask;
    const a = this.addrs;
    let i = slotOf(fold(w0, w1, w2, w3), k) & mask;
    for (;;) {
      const v = this.values[i];
      if (v < 0) return -1;
      const at = i << 2;
      if (this.keys[i] === k && a[at] === (w0 | 0) && a[at + 1] === (w1 | 0) && a[at + 2] === (w2 | 0) && a[at + 3] === (w3 | 0)) return v;
      i = (i + 1) & mask;
    }
  }
}

/** Key bit of an IPv6 endpoint. */
const FAMILY6 = 1 << 24;

function key(proto: number, port: number): number {
  return ((proto & 0xff) << 16) | (port & 0xffff);
}

/** One word from the four of an IPv6 address (for the slot hash only). */
function fold(w0: number, w1: number, w2: number, w3: number): number {
  return (Math.imul(w0, 0x01000193) ^ Math.imul(w1, 0x5bd1e995) ^ Math.imul(w2, 0x27d4eb2f) ^ w3) | 0;
}

function slotOf(addr: number, key: number): number {
  let h = Math.imul(addr ^ Math.imul(key, 0x85ebca6b), 0x9e3779b1);
  h ^= h >>> 15;
  return Math.imul(h, 0x2c1b3c6d) >>> 12;
}
