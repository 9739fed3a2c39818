/**
 * A small read-mostly hash table from an L4 endpoint (protocol, IPv4 address, port) to a
 * non-negative integer: VIP → service index, backend endpoint → backend index. Open
 * addressing with linear probing over typed arrays, load ≤ 0.5; `find` neither allocates
 * nor throws, so it runs per packet. Filled once at start (control plane).
 *
 * @example
 * ```ts
 * const vips = new EndpointTable(2);
 * vips.add(6, 0xc6120064, 80, 0);
 * vips.find(6, 0xc6120064, 80); // 0
 * vips.find(17, 0xc6120064, 80); // -1
 * ```
 */
export class EndpointTable {
  /** Entries stored. */
  size = 0;
  private readonly mask: number;
  private readonly addrs: Uint32Array;
  /** proto << 16 | port of each slot. */
  private readonly keys: Int32Array;
  /** Value of each slot, -1 when empty. */
  private readonly values: Int32Array;

  /** @param expected most entries that will be added (the table never grows) */
  constructor(expected: number) {
    let slots = 8;
    while (slots < expected * 2) slots *= 2;
    this.mask = slots - 1;
    this.addrs = new Uint32Array(slots);
    this.keys = new Int32Array(slots);
    this.values = new Int32Array(slots).fill(-1);
  }

  /** Adds an endpoint; returns false (table unchanged) if it is already present or the table is full. */
  add(proto: number, addr: number, port: number, value: number): boolean {
    if (this.find(proto, addr, port) >= 0 || this.size * 2 >= this.mask + 1) return false;
    const key = ((proto & 0xff) << 16) | (port & 0xffff);
    let i = slotOf(addr, key) & this.mask;
    while (this.values[i] >= 0) i = (i + 1) & this.mask;
    this.addrs[i] = addr >>> 0;
    this.keys[i] = key;
    this.values[i] = value;
    this.size++;
    return true;
  }

  /** The value stored for the endpoint, or -1. */
  find(proto: number, addr: number, port: number): number {
    const key = ((proto & 0xff) << 16) | (port & 0xffff);
    const a = addr >>> 0;
    const mask = this.mask;
    let i = slotOf(a, key) & mask;
    for (;;) {
      const v = this.values[i];
      if (v < 0) return -1;
      if (this.addrs[i] === a && this.keys[i] === key) return v;
      i = (i + 1) & mask;
    }
  }
}

function slotOf(addr: number, key: number): number {
  let h = Math.imul(addr ^ Math.imul(key, 0x85ebca6b), 0x9e3779b1);
  h ^= h >>> 15;
  return Math.imul(h, 0x2c1b3c6d) >>> 12;
}
