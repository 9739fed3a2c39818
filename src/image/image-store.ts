import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FailedPreconditionError, ImageIntegrityError, ImageNotFoundError, InvalidArgumentError } from '../errors/catalog.ts';
import { sha256Hex } from './canonical-json.ts';
import { DEFAULT_LEASE_TTL_MS, ImageLease, LEASES_DIR, markUsed, scanLeases } from './image-lease.ts';
import { IMAGE_FILE, MANIFEST_FILE, parseManifest, renderManifest, type ImageManifest } from './image-manifest.ts';
import { PACKAGE_ROOT } from './package-info.ts';

/** Environment variable that overrides the default store directory. */
export const IMAGE_STORE_ENV = 'NFVKIT_IMAGE_STORE';

/** Default store directory: `.nfvkit/images/` in the nfvkit package root. */
export const DEFAULT_IMAGE_STORE_DIR = join(PACKAGE_ROOT, '.nfvkit', 'images');

/** Format tag of `index.json`. */
export const IMAGE_INDEX_FORMAT = 'nfvkit-image-index/1';

const INDEX_FILE = 'index.json';
const LOCK_FILE = 'index.lock';
const LOCK_WAIT_MS = 5000;
const LOCK_STALE_MS = 10_000;
const TRASH_DIR = '.trash';
const ID = /^[0-9a-f]{64}$/;
/** Shortest id prefix `resolve` accepts. */
export const MIN_ID_PREFIX = 4;

/** One line of the store's index. */
export interface ImageIndexEntry {
  /** Function name. */
  readonly name: string;
  /** Image id (64 hex digits). */
  readonly id: string;
  /** When the image entered this store (ISO 8601, UTC). */
  readonly created: string;
  /** Bundle size in bytes. */
  readonly size: number;
  /** Number of modules in the bundle. */
  readonly modules: number;
  readonly memoryMiB: number;
  /** The build key (cache key) the image was built for. */
  readonly buildKey: string;
  /**
   * When the image was last used (ISO 8601, UTC): added, found in the cache, or let go by
   * a lease holder. Absent in indexes written before garbage collection: `created` then.
   */
  readonly lastUsed?: string;
  /** Bytes of the image's directory (bundle, source map, manifest); absent in older indexes. */
  readonly storedBytes?: number;
}

/** Options of `ImageStore.prune`. */
export interface PruneOptions {
  /** Remove the images no live lease holds whose last use is at least this long ago, ms (0: every unused image). */
  readonly olderThanMs: number;
  /**
   * Then, while the store holds more than this many bytes, evict the unused images left,
   * least recently used first, grace period or not. In-use images are never evicted.
   */
  readonly capBytes?: number;
  /** Ids this pass must keep even if no lease holds them (e.g. an image just built). */
  readonly keep?: Iterable<string>;
  /** Work out what would go and change nothing. */
  readonly dryRun?: boolean;
  /** The time to measure ages against, Unix ms (default now). */
  readonly now?: number;
}

/** One image a prune removed (or would remove, in a dry run). */
export interface PrunedImage {
  readonly id: string;
  readonly name: string;
  /** Bytes freed on disk. */
  readonly bytes: number;
  /** Last use, ISO 8601. */
  readonly lastUsed: string;
  /** `unused`: past the grace period; `cap`: evicted to bring the store under its cap. */
  readonly reason: 'unused' | 'cap';
}

/** What `ImageStore.prune` did. */
export interface PruneResult {
  readonly dryRun: boolean;
  /** Removed images, least recently used first. */
  readonly removed: readonly PrunedImage[];
  readonly freedBytes: number;
  /** Images and bytes left (in a dry run: that would be left). */
  readonly images: number;
  readonly bytes: number;
  /** Images left that a live lease holds (or `keep` names). */
  readonly inUse: number;
  /** Unused images left because they were used within `olderThanMs`. */
  readonly recent: number;
  /** Set when the store stays over `capBytes` with nothing left it may evict. */
  readonly capExceeded?: { readonly bytes: number; readonly capBytes: number };
}

/** How much the store holds, for gauges (`ImageStore.usage`). */
export interface ImageStoreUsage {
  readonly images: number;
  readonly bytes: number;
  /** Images (and their bytes) a live lease holds. */
  readonly inUseImages: number;
  readonly inUseBytes: number;
}

interface IndexFile {
  format: string;
  images: ImageIndexEntry[];
}

/**
 * The image store: a directory holding one sub-directory per image, named by its id, with
 * the sealed `image.mjs` + `manifest.json` (and `image.mjs.map`, the bundle's source map),
 * and an `index.json` listing the images (name, id, created, size, modules, memory, build key).
 *
 * ```
 * <store>/index.json
 * <store>/<id>/image.mjs
 * <store>/<id>/image.mjs.map
 * <store>/<id>/manifest.json
 * <store>/leases/<host>-<pid>-<random>.json   the images each running holder uses (ImageLease)
 * <store>/.trash/                              images being removed
 * ```
 *
 * Writes are atomic: an image directory is written under a temporary name and renamed into
 * place (an id directory is complete or absent), and `index.json` is rewritten through a
 * temporary file and a rename. Both happen under a lock file (`index.lock`, created
 * exclusively, taken over after 10 s) so concurrent builders do not lose each other's
 * entries. Readers take no lock.
 *
 * Garbage collection: `prune` removes the images no live lease holds that were last used
 * longer ago than a grace period, then evicts unused ones, least recently used first,
 * while the store is over a size cap. Removal happens under the lock (so a concurrent
 * `add` of the same id either republishes it afterwards or made it recent before) by
 * renaming the image directory into `.trash/` and deleting it there once the lock is
 * released; a rename moves a symbolic link itself, and deletion never follows links.
 *
 * @example
 * ```ts
 * const store = ImageStore.open();                  // $NFVKIT_IMAGE_STORE or .nfvkit/images
 * for (const e of store.list()) console.log(e.name, e.id.slice(0, 12));
 * const manifest = store.manifest('3f2a9c');        // id or unique prefix
 * const file = store.imagePath(manifest.id);
 * ```
 */
export class ImageStore {
  /** Absolute path of the store directory. */
  readonly dir: string;

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** The store at `dir`, else `$NFVKIT_IMAGE_STORE`, else `DEFAULT_IMAGE_STORE_DIR`. Created on first write. */
  static open(dir?: string): ImageStore {
    const chosen = dir ?? process.env[IMAGE_STORE_ENV] ?? DEFAULT_IMAGE_STORE_DIR;
    if (chosen === '') throw new InvalidArgumentError('image store directory must not be empty');
    return new ImageStore(resolve(chosen));
  }

  /** Every image in the index, oldest first. */
  list(): ImageIndexEntry[] {
    return this.readIndex().images;
  }

  /** The entry whose id is `ref` or starts with `ref` (≥ 4 hex digits); throws `ImageNotFoundError`. */
  resolve(ref: string): ImageIndexEntry {
    const want = ref.toLowerCase();
    if (!/^[0-9a-f]+$/.test(want) || want.length < MIN_ID_PREFIX || want.length > 64) {
      throw new ImageNotFoundError(`"${ref}" is not an image id or id prefix (${MIN_ID_PREFIX}–64 hex digits)`);
    }
    const found = this.list().filter((e) => e.id.startsWith(want));
    if (found.length === 0) throw new ImageNotFoundError(`no image ${ref} in ${this.dir}`);
    if (found.length > 1) {
      throw new ImageNotFoundError(`id prefix ${ref} is ambiguous in ${this.dir}: ${found.map((e) => `${e.id.slice(0, 12)} (${e.name})`).join(', ')}`);
    }
    return found[0];
  }

  /** The manifest of image `ref` (id or prefix), checked against its id. */
  manifest(ref: string): ImageManifest {
    const id = this.resolve(ref).id;
    const dir = join(this.dir, id);
    let text: string;
    try {
      text = readFileSync(join(dir, MANIFEST_FILE), 'utf8');
    } catch (err) {
      throw new ImageIntegrityError(`image ${id.slice(0, 12)} is in the index but its manifest cannot be read: ${(err as Error).message}`, { cause: err });
    }
    const manifest = parseManifest(text, dir);
    if (manifest.id !== id) throw new ImageIntegrityError(`${dir}: holds the manifest of image ${manifest.id.slice(0, 12)}`);
    return manifest;
  }

  /** Absolute path of image `ref`'s bundle (what a Worker is started on). */
  imagePath(ref: string): string {
    return join(this.dir, this.resolve(ref).id, IMAGE_FILE);
  }

  /**
   * Absolute path of image `ref`'s source map (`image.mjs.map`, beside the bundle), or
   * undefined when its manifest names none (an image built before source maps were kept).
   */
  sourceMapPath(ref: string): string | undefined {
    const manifest = this.manifest(ref);
    return manifest.sourceMap === undefined ? undefined : join(this.dir, manifest.id, manifest.sourceMap.file);
  }

  /**
   * Checks image `ref` end to end: the manifest hashes to the id, and the bundle's bytes
   * (and the source map's, when the manifest names one) have the size and SHA-256 the
   * manifest names. Returns the manifest; throws `ImageIntegrityError` on any difference.
   */
  verify(ref: string): ImageManifest {
    const manifest = this.manifest(ref);
    const dir = join(this.dir, manifest.id);
    checkSealed(manifest.id, 'bundle', join(dir, manifest.file), manifest);
    if (manifest.sourceMap !== undefined) checkSealed(manifest.id, 'source map', join(dir, manifest.sourceMap.file), manifest.sourceMap);
    return manifest;
  }

  /** The most recent image built for `buildKey`, if any. */
  findByBuildKey(buildKey: string): ImageIndexEntry | undefined {
    const all = this.list().filter((e) => e.buildKey === buildKey);
    return all[all.length - 1];
  }

  /**
   * Seals `bytes` + `manifest` (+ the source map the manifest names, `extras.sourceMap`)
   * into the store; the caller computed `manifest.id`, which is checked, as are the bytes
   * against the manifest. `extras.created` is the index time (default now). Adding an
   * image that is already there changes nothing and returns `added: false`.
   */
  add(
    bytes: Uint8Array,
    manifest: ImageManifest,
    extras: { readonly sourceMap?: Uint8Array; readonly created?: Date; readonly lease?: ImageLease } = {},
  ): { entry: ImageIndexEntry; added: boolean } {
    parseManifest(renderManifest(manifest), 'new image'); // sealed: id matches content
    if (!matches(bytes, manifest)) {
      throw new ImageIntegrityError(`image ${manifest.id.slice(0, 12)}: bundle does not match the manifest being added`);
    }
    const map = extras.sourceMap;
    if ((manifest.sourceMap === undefined) !== (map === undefined) || (map !== undefined && !matches(map, manifest.sourceMap!))) {
      throw new ImageIntegrityError(`image ${manifest.id.slice(0, 12)}: source map does not match the manifest being added`);
    }
    const created = extras.created ?? new Date();
    mkdirSync(this.dir, { recursive: true });
    const final = join(this.dir, manifest.id);
    const tmp = join(this.dir, `.tmp-${manifest.id.slice(0, 12)}-${process.pid}-${Math.random().toString(36).slice(2)}`);
    mkdirSync(tmp);
    writeFileSync(join(tmp, manifest.file), bytes);
    if (map !== undefined) writeFileSync(join(tmp, manifest.sourceMap!.file), map);
    const manifestText = renderManifest(manifest);
    writeFileSync(join(tmp, MANIFEST_FILE), manifestText);
    const entry: ImageIndexEntry = {
      name: manifest.name,
      id: manifest.id,
      created: created.toISOString(),
      size: manifest.size,
      modules: manifest.modules.length,
      memoryMiB: manifest.memoryMiB,
      buildKey: manifest.build.key,
      lastUsed: new Date().toISOString(),
      storedBytes: bytes.length + (map?.length ?? 0) + Buffer.byteLength(manifestText),
    };
    let added = false;
    let result = entry;
    try {
      this.updateIndex((images) => {
        // Under the index lock: publish the directory (absent, or damaged by hand: replace).
        if (!this.holdsExactly(final, bytes, map, manifest)) {
          rmSync(final, { recursive: true, force: true });
          renameSync(tmp, final);
        }
        extras.lease?.holdLocked(manifest.id);
        const known = images.find((e) => e.id === manifest.id);
        if (known !== undefined) {
          result = known;
          return markUsed(images, [known.id], new Date());
        }
        added = true;
        return [...images, entry];
      });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    return { entry: result, added };
  }

  private holdsExactly(dir: string, bytes: Uint8Array, map: Uint8Array | undefined, manifest: ImageManifest): boolean {
    const same = (data: Uint8Array, file: string): boolean => Buffer.from(data.buffer, data.byteOffset, data.byteLength).equals(readFileSync(join(dir, file)));
    try {
      return (
        same(bytes, manifest.file) &&
        (map === undefined || same(map, manifest.sourceMap!.file)) &&
        readFileSync(join(dir, MANIFEST_FILE), 'utf8') === renderManifest(manifest)
      );
    } catch {
      return false;
    }
  }

  /**
   * Removes image `ref` (id or prefix) from the index and deletes its directory (through
   * `.trash/`, as `prune` does). Throws `FailedPreconditionError` when a live lease holds it.
   */
  remove(ref: string): ImageIndexEntry {
    const entry = this.resolve(ref);
    const trash: string[] = [];
    try {
      this.updateIndex((images) => {
        const holders = scanLeases(this.leasesDir, Date.now()).live.filter((l) => l.images.includes(entry.id));
        if (holders.length > 0) {
          throw new FailedPreconditionError(`image ${entry.id.slice(0, 12)} (${entry.name}) is in use by ${holders.map((l) => `${l.owner} pid ${l.pid} on ${l.host}`).join(', ')}`);
        }
        this.moveToTrash(entry.id, trash);
        return images.filter((e) => e.id !== entry.id);
      });
    } finally {
      emptyTrash(trash);
    }
    return entry;
  }

  /**
   * A lease on images of this store for the calling process (see `ImageLease`): every
   * `prune`, by any process, keeps what a live lease holds. Close it when done.
   */
  lease(owner: string, options: { readonly ttlMs?: number } = {}): ImageLease {
    mkdirSync(this.dir, { recursive: true });
    return new ImageLease(this.leasesDir, owner, (change) => this.updateIndex(change), options.ttlMs ?? DEFAULT_LEASE_TTL_MS);
  }

  /** Marks image `id` as used now (under the lock); false when the store does not list it. */
  touch(id: string): boolean {
    let present = false;
    this.updateIndex((images) => {
      present = images.some((e) => e.id === id);
      return present ? markUsed(images, [id], new Date()) : images;
    });
    return present;
  }

  /**
   * Garbage collection. Under the store's lock: reads the leases (a lapsed one is folded
   * into its images' last use, then deleted), removes every image no live lease holds (nor
   * `keep` names) last used at least `olderThanMs` ago, then, with `capBytes`, evicts the
   * unused images left, least recently used first, until the store fits. What still does
   * not fit is in use: reported in `capExceeded`, never deleted. Throws
   * `ImageIntegrityError` when the leases directory holds a recent file that is no lease
   * (its holder cannot be known, so nothing is removed).
   *
   * @example
   * ```ts
   * const r = store.prune({ olderThanMs: 10 * 60_000, capBytes: 512 * 2 ** 20 });
   * for (const img of r.removed) console.log(img.name, img.id.slice(0, 12), img.reason);
   * if (r.capExceeded) console.warn(`in-use images alone exceed the cap: ${r.capExceeded.bytes} bytes`);
   * ```
   */
  prune(options: PruneOptions): PruneResult {
    const { olderThanMs, capBytes } = options;
    if (!Number.isFinite(olderThanMs) || olderThanMs < 0) throw new InvalidArgumentError(`prune: olderThanMs must be a duration >= 0, got ${olderThanMs}`);
    if (capBytes !== undefined && (!Number.isSafeInteger(capBytes) || capBytes <= 0)) throw new InvalidArgumentError(`prune: capBytes must be a whole number of bytes > 0, got ${capBytes}`);
    const dryRun = options.dryRun === true;
    const now = options.now ?? Date.now();
    const keep = new Set(options.keep ?? []);
    let result: PruneResult = { dryRun, removed: [], freedBytes: 0, images: 0, bytes: 0, inUse: 0, recent: 0 };
    if (!existsSync(this.dir)) return result;
    const trash: string[] = [];
    try {
      this.updateIndex((images) => {
        const leases = scanLeases(this.leasesDir, now);
        const unknown = leases.unreadable.find((u) => u.ageMs <= DEFAULT_LEASE_TTL_MS);
        if (unknown !== undefined) throw new ImageIntegrityError(`image store ${this.dir}: ${unknown.file} is not a lease; prune removes nothing while its holder cannot be known (delete the file if no nfvkit process wrote it)`);
        const lastUse = new Map(images.map((e) => [e.id, Date.parse(e.lastUsed ?? e.created) || 0]));
        for (const { record } of leases.dead) {
          const renewed = Date.parse(record.renewed);
          for (const id of record.images) if ((lastUse.get(id) ?? Infinity) < renewed) lastUse.set(id, renewed);
        }
        const inUse = new Set(leases.live.flatMap((l) => l.images));
        const held = (e: ImageIndexEntry): boolean => inUse.has(e.id) || keep.has(e.id) || !ID.test(e.id);
        const bytesOf = new Map(images.map((e) => [e.id, e.storedBytes ?? this.dirBytes(e.id)]));
        const unused = images.filter((e) => !held(e)).sort((a, b) => lastUse.get(a.id)! - lastUse.get(b.id)! || (a.id < b.id ? -1 : 1));

        const removed: PrunedImage[] = [];
        const pick = (e: ImageIndexEntry, reason: PrunedImage['reason']): void => {
          removed.push({ id: e.id, name: e.name, bytes: bytesOf.get(e.id)!, lastUsed: new Date(lastUse.get(e.id)!).toISOString(), reason });
        };
        for (const e of unused) if (now - lastUse.get(e.id)! >= olderThanMs) pick(e, 'unused');
        let bytes = images.reduce((sum, e) => sum + bytesOf.get(e.id)!, 0) - removed.reduce((sum, r) => sum + r.bytes, 0);
        if (capBytes !== undefined) {
          for (const e of unused) {
            if (bytes <= capBytes) break;
            if (removed.some((r) => r.id === e.id)) continue;
            pick(e, 'cap');
            bytes -= bytesOf.get(e.id)!;
          }
        }
        const gone = new Set(removed.map((r) => r.id));
        const left = images.filter((e) => !gone.has(e.id));
        result = {
          dryRun,
          removed,
          freedBytes: removed.reduce((sum, r) => sum + r.bytes, 0),
          images: left.length,
          bytes,
          inUse: left.filter(held).length,
          recent: left.filter((e) => !held(e)).length,
          ...(capBytes !== undefined && bytes > capBytes ? { capExceeded: { bytes, capBytes } } : {}),
        };
        if (dryRun) return images;
        for (const id of gone) this.moveToTrash(id, trash);
        const leasesIsDir = isRealDirectory(this.leasesDir);
        for (const { file } of leases.dead) if (leasesIsDir) rmSync(file, { force: true });
        for (const { file } of leases.unreadable) if (leasesIsDir) rmSync(file, { force: true });
        const folded = left.map((e) => {
          const at = lastUse.get(e.id)!;
          return at > Date.parse(e.lastUsed ?? e.created) ? { ...e, lastUsed: new Date(at).toISOString() } : e;
        });
        return gone.size === 0 && folded.every((e, i) => e === left[i]) ? images : folded;
      });
    } finally {
      emptyTrash(trash);
    }
    if (!dryRun) emptyTrash(this.trashLeftovers());
    return result;
  }

  /** Images and bytes in the store, and how many of them live leases hold (no lock taken). */
  usage(now = Date.now()): ImageStoreUsage {
    const images = this.list();
    const inUse = new Set(scanLeases(this.leasesDir, now).live.flatMap((l) => l.images));
    let bytes = 0;
    let inUseImages = 0;
    let inUseBytes = 0;
    for (const e of images) {
      const b = e.storedBytes ?? this.dirBytes(e.id);
      bytes += b;
      if (inUse.has(e.id)) {
        inUseImages++;
        inUseBytes += b;
      }
    }
    return { images: images.length, bytes, inUseImages, inUseBytes };
  }

  private get leasesDir(): string {
    return join(this.dir, LEASES_DIR);
  }

  /** Bytes of the regular files directly in image `id`'s directory (0 if it is a link or absent). */
  private dirBytes(id: string): number {
    if (!ID.test(id)) return 0;
    const dir = join(this.dir, id);
    if (!isRealDirectory(dir)) return 0;
    let total = 0;
    for (const name of readdirSync(dir)) {
      try {
        const st = lstatSync(join(dir, name));
        if (st.isFile()) total += st.size;
      } catch {
        // removed meanwhile
      }
    }
    return total;
  }

  /** Under the lock: renames image `id`'s directory (or a link in its place) into `.trash/`. */
  private moveToTrash(id: string, trash: string[]): void {
    if (!ID.test(id)) return;
    const from = join(this.dir, id);
    try {
      lstatSync(from);
    } catch {
      return; // nothing on disk
    }
    const bin = join(this.dir, TRASH_DIR);
    if (!isRealDirectory(bin)) {
      rmSync(bin, { force: true }); // a file or link in its place: removed itself, never followed
      mkdirSync(bin);
    }
    const to = join(bin, `${id}.${process.pid}.${Math.random().toString(36).slice(2)}`);
    renameSync(from, to);
    trash.push(to);
  }

  /** What an interrupted prune left in `.trash/` (nothing if `.trash` is not a real directory). */
  private trashLeftovers(): string[] {
    const bin = join(this.dir, TRASH_DIR);
    return isRealDirectory(bin) ? readdirSync(bin).map((name) => join(bin, name)) : [];
  }

  /**
   * Rebuilds `index.json` from the image directories (after a crash or a hand edit):
   * every directory whose manifest parses and matches its name is listed; `created` is
   * kept from the old index, else taken from the manifest's modification time.
   */
  reindex(): ImageIndexEntry[] {
    let images: ImageIndexEntry[] = [];
    this.updateIndex((old) => {
      images = this.scan(old);
      return images;
    });
    return images;
  }

  private scan(old: readonly ImageIndexEntry[]): ImageIndexEntry[] {
    if (!existsSync(this.dir)) return [];
    const out: ImageIndexEntry[] = [];
    for (const name of readdirSync(this.dir)) {
      if (!ID.test(name)) continue;
      const file = join(this.dir, name, MANIFEST_FILE);
      let manifest: ImageManifest;
      try {
        manifest = parseManifest(readFileSync(file, 'utf8'), join(this.dir, name));
      } catch {
        continue;
      }
      if (manifest.id !== name) continue;
      const before = old.find((e) => e.id === name);
      const created = before?.created ?? statSync(file).mtime.toISOString();
      out.push({
        name: manifest.name,
        id: manifest.id,
        created,
        size: manifest.size,
        modules: manifest.modules.length,
        memoryMiB: manifest.memoryMiB,
        buildKey: manifest.build.key,
        ...(before?.lastUsed === undefined ? {} : { lastUsed: before.lastUsed }),
        ...(before?.storedBytes === undefined ? {} : { storedBytes: before.storedBytes }),
      });
    }
    return sortEntries(out);
  }

  private readIndex(): IndexFile {
    const file = join(this.dir, INDEX_FILE);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { format: IMAGE_INDEX_FORMAT, images: this.scan([]) };
      throw new ImageIntegrityError(`image store index ${file} cannot be read: ${(err as Error).message}`, { cause: err });
    }
    try {
      const parsed = JSON.parse(text) as IndexFile;
      if (parsed.format !== IMAGE_INDEX_FORMAT || !Array.isArray(parsed.images)) throw new Error(`not an ${IMAGE_INDEX_FORMAT} index`);
      return parsed;
    } catch (err) {
      throw new ImageIntegrityError(`image store index ${file} is corrupt (${(err as Error).message}); run reindex`, { cause: err });
    }
  }

  /** Runs `change` on the index under the lock; the index is rewritten unless `change` returns the very array it got. */
  private updateIndex(change: (images: ImageIndexEntry[]) => ImageIndexEntry[]): void {
    mkdirSync(this.dir, { recursive: true });
    const release = this.lock();
    try {
      const file = join(this.dir, INDEX_FILE);
      const current = existsSync(file) ? this.readIndex().images : this.scan([]);
      const next = change(current);
      if (next === current) return;
      const images = sortEntries(next);
      const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
      writeFileSync(tmp, JSON.stringify({ format: IMAGE_INDEX_FORMAT, images } satisfies IndexFile, null, 2) + '\n');
      renameSync(tmp, file);
    } finally {
      release();
    }
  }

  private lock(): () => void {
    const file = join(this.dir, LOCK_FILE);
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        closeSync(openSync(file, 'wx'));
        return () => rmSync(file, { force: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      try {
        if (Date.now() - statSync(file).mtimeMs > LOCK_STALE_MS) unlinkSync(file); // holder died
      } catch {
        // released meanwhile
      }
      if (Date.now() > deadline) throw new ImageIntegrityError(`image store ${this.dir} is locked (${file}); remove it if no build is running`);
      Atomics.wait(sleeper, 0, 0, 5);
    }
  }
}

function matches(data: Uint8Array, sealed: { readonly size: number; readonly sha256: string }): boolean {
  return data.length === sealed.size && sha256Hex(data) === sealed.sha256;
}

/** Throws `ImageIntegrityError` unless `file` has the size and SHA-256 `sealed` names. */
function checkSealed(id: string, what: string, file: string, sealed: { readonly size: number; readonly sha256: string }): void {
  let data: Uint8Array;
  try {
    data = readFileSync(file);
  } catch (err) {
    throw new ImageIntegrityError(`image ${id.slice(0, 12)}: ${what} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  if (!matches(data, sealed)) throw new ImageIntegrityError(`image ${id.slice(0, 12)}: ${what} ${file} does not match its manifest (size or SHA-256 changed)`);
}

/** Whether `path` is a directory itself, not a link to one. */
function isRealDirectory(path: string): boolean {
  try {
    return lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Deletes what was moved into `.trash/` (links are removed, never followed). */
function emptyTrash(paths: readonly string[]): void {
  for (const p of paths) rmSync(p, { recursive: true, force: true });
}

function sortEntries(images: ImageIndexEntry[]): ImageIndexEntry[] {
  return images.sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
