/**
 * A small FIFO of buffer ids on a chain link: frames taken from one hop's transmitq that
 * wait for room in the next hop's receiveq. Ids are kept from index 0 so `ids` can be
 * handed to `deliverRx` as is; `shift` moves the rest down (≤ capacity ids, no allocation).
 *
 * @example
 * ```ts
 * const fifo = new LinkFifo(512);
 * for (let i = 0; i < n; i++) fifo.pushOne(polled[i]);
 * const k = Math.min(end.rxRoom(), fifo.count);
 * end.deliverRx(fifo.ids, k);
 * fifo.shift(k);
 * ```
 */
export class LinkFifo {
  readonly ids: Uint32Array;
  count = 0;

  constructor(capacity: number) {
    this.ids = new Uint32Array(capacity);
  }

  /** Free slots. */
  free(): number {
    return this.ids.length - this.count;
  }

  /** Appends one id; the caller checked `free() > 0`. */
  pushOne(id: number): void {
    this.ids[this.count++] = id;
  }

  /** Drops the first `k` ids (they were delivered). */
  shift(k: number): void {
    if (k >= this.count) {
      this.count = 0;
      return;
    }
    this.ids.copyWithin(0, k, this.count);
    this.count -= k;
  }
}
