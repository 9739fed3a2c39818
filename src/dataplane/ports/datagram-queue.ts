import { InvalidArgumentError } from '../../errors/catalog.ts';

/**
 * A bounded FIFO of received datagrams (references, not copies) between the socket's
 * `message` events and the port's `fill`. A fixed array used as a ring: no allocation after
 * construction; a full queue refuses (the caller counts the drop).
 *
 * @example
 * ```ts
 * const q = new DatagramQueue(4096);
 * if (!q.push(msg)) drops++;
 * while (q.count > 0) { use(q.peek()); q.shift(); }
 * ```
 */
export class DatagramQueue {
  readonly capacity: number;
  count = 0;
  private head = 0;
  private readonly items: Array<Uint8Array | undefined>;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new InvalidArgumentError(`queue capacity ${capacity} must be a positive integer`);
    this.capacity = capacity;
    this.items = new Array<Uint8Array | undefined>(capacity).fill(undefined);
  }

  /** Appends `item`; false (nothing stored) when full. */
  push(item: Uint8Array): boolean {
    if (this.count === this.capacity) return false;
    let tail = this.head + this.count;
    if (tail >= this.capacity) tail -= this.capacity;
    this.items[tail] = item;
    this.count++;
    return true;
  }

  /** The oldest item (the queue must not be empty). */
  peek(): Uint8Array {
    return this.items[this.head] as Uint8Array;
  }

  /** Removes the oldest item. */
  shift(): void {
    if (this.count === 0) return;
    this.items[this.head] = undefined;
    if (++this.head === this.capacity) this.head = 0;
    this.count--;
  }

  /** Drops every item; returns how many there were. */
  clear(): number {
    const n = this.count;
    while (this.count > 0) this.shift();
    return n;
  }
}
