import { join } from 'node:path';
import { InvalidArgumentError } from '../errors/catalog.ts';
import { IMAGE_FILE } from '../image/image-manifest.ts';
import type { ImageLease } from '../image/image-lease.ts';
import type { ImageStore, PruneResult } from '../image/image-store.ts';
import type { EventInput } from './event-log.ts';

/** How long an image no chain uses stays in the store by default: 10 minutes. */
export const DEFAULT_IMAGE_GRACE_MS = 600_000;

/** Options of the controller's image garbage collection (`ControllerOptions.imageGc`). */
export interface ImageGcOptions {
  /** How long an image no chain uses is kept after its last use, ms (default 10 min). */
  readonly graceMs?: number;
  /**
   * Most bytes the store may hold: when a build pushes it over, the unused images are
   * evicted, least recently used first, grace period or not (default: no cap).
   */
  readonly capBytes?: number;
  /** How often a collection runs, ms (default: half the grace period, from 1 s to 60 s). */
  readonly intervalMs?: number;
}

/** `ImageGcOptions` with the defaults applied. */
export interface ResolvedImageGcOptions {
  readonly graceMs: number;
  readonly capBytes: number | undefined;
  readonly intervalMs: number;
}

/**
 * Checks `options` and applies the defaults; throws `InvalidArgumentError` for a negative
 * grace period, a cap that is not a whole number of bytes > 0, or an interval under 10 ms.
 */
export function resolveImageGcOptions(options: ImageGcOptions = {}): ResolvedImageGcOptions {
  const grace = options.graceMs ?? DEFAULT_IMAGE_GRACE_MS;
  if (!Number.isFinite(grace) || grace < 0) throw new InvalidArgumentError(`image grace period must be a duration >= 0, got ${grace}`);
  if (options.capBytes !== undefined && (!Number.isSafeInteger(options.capBytes) || options.capBytes <= 0)) {
    throw new InvalidArgumentError(`image store cap must be a whole number of bytes > 0, got ${options.capBytes}`);
  }
  const interval = options.intervalMs ?? Math.min(60_000, Math.max(1000, grace / 2));
  if (!Number.isFinite(interval) || interval < 10) throw new InvalidArgumentError(`image collection interval must be at least 10 ms, got ${interval}`);
  return { graceMs: grace, capBytes: options.capBytes, intervalMs: interval };
}

/** What the collector needs from the controller. */
export interface ImageGcHost {
  readonly store: ImageStore;
  /** The controller's lease: set to `inUse()` before every collection. */
  readonly lease: ImageLease;
  /** Ids of every image the controller's chains (and the applies in progress) use. */
  inUse(): Set<string>;
  /** Records an `image-gc` event. */
  record(event: EventInput): void;
  /** Called with the bundle paths of removed images (the warm pool forgets them). */
  removed?(imagePaths: readonly string[]): void;
}

/**
 * The controller's image garbage collector: every `intervalMs`, after a chain is deleted
 * (and again once the grace period of its images has passed), and after a build that added
 * an image when there is a cap, it tells the store which images the chains use (the
 * controller's `ImageLease`) and prunes the store (`ImageStore.prune`). Every pass that
 * removed something is an `image-gc` event with the images and bytes freed; a store that
 * stays over its cap because every image left is in use is an `image-gc` event too (once,
 * until it fits again). Errors (a store locked for too long) become events, never throws.
 *
 * @example
 * ```ts
 * const gc = new ImageGc({ store, lease, inUse: () => ids, record: (e) => events.record(e) }, { graceMs: 60_000 });
 * gc.start();
 * gc.chainDeleted();
 * gc.close();
 * ```
 */
export class ImageGc {
  /** How long an unused image is kept after its last use, ms. */
  readonly graceMs: number;
  /** The store's size cap, bytes (undefined: none). */
  readonly capBytes: number | undefined;
  /** Period of the collection, ms. */
  readonly intervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private readonly delayed = new Set<NodeJS.Timeout>();
  private overCap = false;
  private closed = false;

  constructor(
    private readonly host: ImageGcHost,
    options: ImageGcOptions = {},
  ) {
    const resolved = resolveImageGcOptions(options);
    this.graceMs = resolved.graceMs;
    this.capBytes = resolved.capBytes;
    this.intervalMs = resolved.intervalMs;
  }

  /** Starts the periodic collection (the first after one interval). */
  start(): void {
    if (this.closed || this.timer !== undefined) return;
    this.timer = setInterval(() => this.run('periodic'), this.intervalMs);
    this.timer.unref();
  }

  /**
   * One collection now: the lease is set to the images in use, then the store is pruned.
   * `keep`: ids to keep this time even if unused (an image just built). Returns what the
   * prune did, or undefined when it failed (recorded as an event).
   */
  run(trigger: string, keep: Iterable<string> = []): PruneResult | undefined {
    if (this.closed) return undefined;
    const { store, lease } = this.host;
    let result: PruneResult;
    try {
      lease.set(this.host.inUse());
      result = store.prune({ olderThanMs: this.graceMs, keep, ...(this.capBytes === undefined ? {} : { capBytes: this.capBytes }) });
    } catch (err) {
      this.host.record({ type: 'image-gc', chain: '', reason: `image collection failed (${trigger}): ${(err as Error).message}` });
      return undefined;
    }
    if (result.removed.length > 0) {
      const byCap = result.removed.filter((r) => r.reason === 'cap').length;
      this.host.record({
        type: 'image-gc',
        chain: '',
        reason: `removed ${result.removed.length} unused image${result.removed.length === 1 ? '' : 's'} (${trigger}${byCap > 0 ? `, ${byCap} to stay under the cap` : ''})`,
        details: {
          removed: result.removed.length,
          removedByCap: byCap,
          freedBytes: result.freedBytes,
          freedBytesByCap: result.removed.reduce((sum, r) => sum + (r.reason === 'cap' ? r.bytes : 0), 0),
          images: result.images,
          bytes: result.bytes,
          ids: result.removed.map((r) => r.id.slice(0, 12)).join(','),
        },
      });
      this.host.removed?.(result.removed.map((r) => join(store.dir, r.id, IMAGE_FILE)));
    }
    if (result.capExceeded !== undefined && !this.overCap) {
      this.host.record({
        type: 'image-gc',
        chain: '',
        reason: `image store over its cap: ${result.capExceeded.bytes} bytes > ${result.capExceeded.capBytes} and every image left is in use or kept; nothing more is removed`,
        details: { bytes: result.capExceeded.bytes, capBytes: result.capExceeded.capBytes, images: result.images, inUse: result.inUse },
      });
    }
    this.overCap = result.capExceeded !== undefined;
    return result;
  }

  /** After a chain was deleted: lets its images go now, and collects again once their grace period is over. */
  chainDeleted(): void {
    this.run('chain deleted');
    this.runLater(this.graceMs + 50, 'grace period after a chain deletion');
  }

  /** After a build added image `id`: with a cap, evicts what no longer fits (never `id`). */
  imageAdded(id: string): void {
    if (this.capBytes !== undefined) this.run('image added', [id]);
  }

  /** Stops collecting and closes the lease (its images count as used now). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    for (const t of this.delayed) clearTimeout(t);
    this.delayed.clear();
    try {
      this.host.lease.close();
    } catch {
      // the lease file is gone anyway; its images were last used now or at its last renewal
    }
  }

  private runLater(ms: number, trigger: string): void {
    const t = setTimeout(() => {
      this.delayed.delete(t);
      this.run(trigger);
    }, ms);
    t.unref();
    this.delayed.add(t);
  }
}
