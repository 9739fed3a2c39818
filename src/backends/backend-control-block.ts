import { InvalidArgumentError } from '../errors/catalog.ts';
import { BackendState, type BackendStateValue, CONTROL_BACKEND_COUNT, CONTROL_GENERATION, CONTROL_STATES, controlLength } from './backend-control-layout.ts';

/**
 * The host's handle on one backend-control array (`backend-control-layout.ts`): the words
 * every instance of one image of a function reads. Writing a state publishes it (bumps the
 * generation); instances apply it at their next batch, and an instance booted later reads
 * the states at its start.
 *
 * @example
 * ```ts
 * const block = BackendControlBlock.create(3, (bytes) => dataPlane.memory.allocate(bytes));
 * block.set(2, BackendState.DRAINING);
 * await dataPlane.addInstance(k, image, { controlSab: block.buffer });
 * ```
 */
export class BackendControlBlock {
  /** The words, on shared memory. */
  readonly words: Int32Array;

  private constructor(words: Int32Array) {
    this.words = words;
  }

  /** A block for `count` backends, every one active, on memory from `allocate`. */
  static create(count: number, allocate: (bytes: number) => SharedArrayBuffer): BackendControlBlock {
    if (!Number.isInteger(count) || count < 0) throw new InvalidArgumentError(`backend count must be a whole number, got ${count}`);
    const words = new Int32Array(allocate(controlLength(count) * 4), 0, controlLength(count));
    words.fill(0);
    words[CONTROL_BACKEND_COUNT] = count;
    return new BackendControlBlock(words);
  }

  /** The shared memory to hand to an instance (`AddInstanceOptions.controlSab`). */
  get buffer(): SharedArrayBuffer {
    return this.words.buffer as SharedArrayBuffer;
  }

  /** Number of backends. */
  get count(): number {
    return this.words[CONTROL_BACKEND_COUNT];
  }

  /** The state of backend `i` as written. */
  state(i: number): BackendStateValue {
    return Atomics.load(this.words, CONTROL_STATES + this.index(i)) as BackendStateValue;
  }

  /** Writes backend `i`'s state and publishes it; false when it was already that state. */
  set(i: number, state: BackendStateValue): boolean {
    if (state !== BackendState.ACTIVE && state !== BackendState.DRAINING && state !== BackendState.REMOVED) {
      throw new InvalidArgumentError(`backend state must be 0, 1 or 2, got ${String(state)}`);
    }
    const slot = CONTROL_STATES + this.index(i);
    if (Atomics.load(this.words, slot) === state) return false;
    Atomics.store(this.words, slot, state);
    Atomics.add(this.words, CONTROL_GENERATION, 1);
    return true;
  }

  private index(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.count) throw new InvalidArgumentError(`no backend ${i} among ${this.count}`);
    return i;
  }
}
