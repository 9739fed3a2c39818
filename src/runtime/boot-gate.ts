import { availableParallelism } from 'node:os';
import { InvalidArgumentError } from '../errors/catalog.ts';

/**
 * Bounds how many instance isolates start at once in this process. Starting an instance
 * process costs the controller a `fork` + `exec` on its own thread (libuv waits until the
 * child has exec'd) and the child ~100 ms of a core; 64 started at once on 2 cores starved
 * each other: every `spawn` then held the controller's event loop 0.1–0.9 s (24 s in all)
 * and boots missed their deadline. Through the gate, boots queue instead, each `spawn`
 * stays a few ms, and the event loop keeps a core. A slot is held from the start of a boot
 * until the instance is ready or failed; a boot's deadline starts when it gets its slot.
 *
 * @example
 * ```ts
 * const host = await INSTANCE_BOOT_GATE.run(() => InstanceHost.boot(opts));
 * ```
 */
export class BootGate {
  /** Boots allowed at once. */
  readonly size: number;
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) throw new InvalidArgumentError(`boot gate size must be a positive integer, got ${size}`);
    this.size = size;
  }

  /** Boots in progress now. */
  get active(): number {
    return this.running;
  }

  /** Boots waiting for a slot now. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Runs `boot` once a slot is free, holding the slot until it settles. */
  async run<T>(boot: () => Promise<T>): Promise<T> {
    if (this.running >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    try {
      return await boot();
    } finally {
      const next = this.waiting.shift();
      if (next !== undefined) next(); // the slot passes on
      else this.running--;
    }
  }
}

/**
 * The gate every instance boot of this process goes through (data planes and warm pools
 * share the machine's cores): one boot at a time per core beyond the controller's own,
 * at least one (`NFVKIT_BOOT_CONCURRENCY` overrides).
 */
export const INSTANCE_BOOT_GATE = new BootGate(bootConcurrency());

function bootConcurrency(): number {
  const env = Number(process.env.NFVKIT_BOOT_CONCURRENCY);
  if (Number.isInteger(env) && env >= 1) return env;
  return Math.max(1, availableParallelism() - 1);
}
