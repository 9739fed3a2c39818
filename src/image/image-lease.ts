import { hostname } from 'node:os';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { InvalidArgumentError } from '../errors/catalog.ts';
import type { ImageIndexEntry } from './image-store.ts';

/** Format tag of a lease file. */
export const IMAGE_LEASE_FORMAT = 'nfvkit-image-lease/1';

/** Directory of the lease files inside a store. */
export const LEASES_DIR = 'leases';

/**
 * How long a lease counts without being renewed, ms (default 5 min). A lease renews itself
 * every third of it; one not renewed for this long belongs to a process that is gone or stuck.
 */
export const DEFAULT_LEASE_TTL_MS = 300_000;

/** What a lease file holds (`<store>/leases/<host>-<pid>-<random>.json`). */
export interface LeaseRecord {
  readonly format: string;
  /** Who holds it (`controller`, …): for people reading the file. */
  readonly owner: string;
  readonly host: string;
  readonly pid: number;
  /** Last renewal, ISO 8601 UTC. */
  readonly renewed: string;
  /** The lease lapses this long after `renewed`, ms. */
  readonly ttlMs: number;
  /** Ids of the images the holder uses. */
  readonly images: readonly string[];
}

/** The leases of a store as a pruner sees them. */
export interface LeaseScan {
  /** Leases whose holder may still use their images. */
  readonly live: readonly LeaseRecord[];
  /** Lapsed leases (not renewed within their ttl, or their process is gone from this host), with their file. */
  readonly dead: readonly { readonly file: string; readonly record: LeaseRecord }[];
  /** Files in the leases directory that are no lease: with their age, ms (mtime). */
  readonly unreadable: readonly { readonly file: string; readonly ageMs: number }[];
}

/** Runs `change` on the store's index under its lock (`ImageStore`'s own `updateIndex`). */
export type IndexUpdate = (change: (images: ImageIndexEntry[]) => ImageIndexEntry[]) => void;

/** Whether process `pid` exists on this host (EPERM: it does, owned by someone else). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function parseLease(text: string): LeaseRecord | undefined {
  try {
    const r = JSON.parse(text) as LeaseRecord;
    const ok =
      r.format === IMAGE_LEASE_FORMAT &&
      typeof r.host === 'string' &&
      Number.isSafeInteger(r.pid) &&
      Number.isFinite(Date.parse(r.renewed)) &&
      Number.isFinite(r.ttlMs) &&
      Array.isArray(r.images) &&
      r.images.every((id) => typeof id === 'string');
    return ok ? r : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads the leases in `dir` (a store's `leases/`) at time `now`. Only regular files are
 * read (`lstat`): a symbolic link is listed as unreadable, never followed. A lease is dead
 * when it was not renewed within its ttl, or when it names this host and its process is gone.
 */
export function scanLeases(dir: string, now: number): LeaseScan {
  const live: LeaseRecord[] = [];
  const dead: { file: string; record: LeaseRecord }[] = [];
  const unreadable: { file: string; ageMs: number }[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return { live, dead, unreadable };
  }
  const host = hostname();
  for (const name of names) {
    if (name.endsWith('.tmp')) continue; // a lease being written
    const file = join(dir, name);
    let record: LeaseRecord | undefined;
    let ageMs = 0;
    try {
      const st = lstatSync(file);
      ageMs = now - st.mtimeMs;
      record = st.isFile() ? parseLease(readFileSync(file, 'utf8')) : undefined;
    } catch {
      continue; // removed meanwhile
    }
    if (record === undefined) unreadable.push({ file, ageMs });
    else if (now - Date.parse(record.renewed) > record.ttlMs || (record.host === host && !processAlive(record.pid))) dead.push({ file, record });
    else live.push(record);
  }
  return { live, dead, unreadable };
}

/**
 * A process's claim on the images it uses, kept as a file in the store
 * (`<store>/leases/<host>-<pid>-<random>.json`, replaced by atomic rename). Every prune, by
 * any process sharing the store, keeps the images a live lease names. The lease renews
 * itself every third of its ttl (an unref'd timer); a holder that dies leaves a file that
 * lapses (at once on the same host: its pid is gone), and the pruner then counts the
 * images as last used at the lease's last renewal.
 *
 * Made by `ImageStore.lease`. `hold` adds one image (the builder calls it on a cache hit,
 * and `ImageStore.add` when it publishes a new image, both under the store's lock, so no
 * prune can slip in between); `set` replaces the whole set (the controller: the images its
 * chains reference) and marks the images it drops as used now, which starts their grace
 * period.
 *
 * @example
 * ```ts
 * const lease = store.lease('controller');
 * await buildImage(fw, config, { store, lease });  // the image is held from the moment it is found or published
 * lease.set(chainImageIds());                       // released images start their grace period
 * lease.close();                                    // at shutdown
 * ```
 */
export class ImageLease {
  /** Absolute path of the lease file. */
  readonly file: string;
  readonly owner: string;
  readonly ttlMs: number;
  private readonly ids = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  /** Use `ImageStore.lease`; `update` runs a change of the store's index under its lock. */
  constructor(
    private readonly dir: string,
    owner: string,
    private readonly update: IndexUpdate,
    ttlMs = DEFAULT_LEASE_TTL_MS,
  ) {
    if (!Number.isFinite(ttlMs) || ttlMs < 1000) throw new InvalidArgumentError(`image lease ttl must be at least 1000 ms, got ${ttlMs}`);
    this.owner = owner;
    this.ttlMs = ttlMs;
    this.file = join(dir, `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 10)}.json`);
    this.write();
    this.timer = setInterval(() => this.renewQuietly(), Math.floor(ttlMs / 3));
    this.timer.unref();
  }

  /** The ids held now. */
  get images(): ReadonlySet<string> {
    return this.ids;
  }

  /**
   * Holds image `id` if the store's index lists it, under the store's lock: true when held,
   * false when the image is not (or no longer) in the store.
   */
  hold(id: string): boolean {
    this.checkOpen();
    let present = false;
    this.update((images) => {
      present = images.some((e) => e.id === id);
      if (present) this.holdLocked(id);
      return images;
    });
    return present;
  }

  /** Adds `id` and rewrites the file. For `ImageStore` only: the caller holds the store's lock. */
  holdLocked(id: string): void {
    this.checkOpen();
    if (this.ids.has(id)) return;
    this.ids.add(id);
    this.write();
  }

  /**
   * Holds exactly `ids` from now on (under the store's lock); the images dropped are marked
   * as used now in the index. Returns the ids dropped.
   */
  set(ids: Iterable<string>): string[] {
    this.checkOpen();
    const next = new Set(ids);
    const dropped = [...this.ids].filter((id) => !next.has(id));
    const grown = [...next].some((id) => !this.ids.has(id));
    if (dropped.length === 0 && !grown) {
      this.renew();
      return dropped;
    }
    this.update((images) => {
      this.ids.clear();
      for (const id of next) this.ids.add(id);
      this.write();
      return dropped.length === 0 ? images : markUsed(images, dropped, new Date());
    });
    return dropped;
  }

  /**
   * Rewrites the file with a new renewal time (also done by the lease's own timer, which
   * ignores failures and never recreates a store directory that was removed).
   */
  renew(): void {
    if (!this.closed) this.write();
  }

  private renewQuietly(): void {
    try {
      if (existsSync(dirname(this.dir))) this.renew();
    } catch {
      // the next renewal tries again; the lease lapses only after its whole ttl
    }
  }

  /** Marks the held images as used now, removes the lease file and stops renewing. Idempotent. */
  close(): void {
    if (this.closed) return;
    clearInterval(this.timer);
    const held = [...this.ids];
    try {
      this.update((images) => {
        rmSync(this.file, { force: true });
        return held.length === 0 ? images : markUsed(images, held, new Date());
      });
    } finally {
      this.closed = true;
      this.ids.clear();
      rmSync(this.file, { force: true });
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new InvalidArgumentError(`image lease ${this.file} is closed`);
  }

  private write(): void {
    const record: LeaseRecord = {
      format: IMAGE_LEASE_FORMAT,
      owner: this.owner,
      host: hostname(),
      pid: process.pid,
      renewed: new Date().toISOString(),
      ttlMs: this.ttlMs,
      images: [...this.ids].sort(),
    };
    mkdirSync(this.dir, { recursive: true });
    const tmp = `${this.file}.${Math.random().toString(36).slice(2)}.tmp`;
    writeFileSync(tmp, JSON.stringify(record, null, 2) + '\n');
    renameSync(tmp, this.file);
  }
}

/** `images` with `lastUsed` set to `at` for the entries whose id is in `ids` (never moved back). */
export function markUsed(images: ImageIndexEntry[], ids: Iterable<string>, at: Date): ImageIndexEntry[] {
  const want = new Set(ids);
  const iso = at.toISOString();
  return images.map((e) => (want.has(e.id) && (e.lastUsed ?? e.created) < iso ? { ...e, lastUsed: iso } : e));
}
