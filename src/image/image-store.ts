import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ImageIntegrityError, ImageNotFoundError, InvalidArgumentError } from '../errors/catalog.ts';
import { sha256Hex } from './canonical-json.ts';
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
 * ```
 *
 * Writes are atomic: an image directory is written under a temporary name and renamed into
 * place (an id directory is complete or absent), and `index.json` is rewritten through a
 * temporary file and a rename. Both happen under a lock file (`index.lock`, created
 * exclusively, taken over after 10 s) so concurrent builders do not lose each other's
 * entries. Readers take no lock.
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
  add(bytes: Uint8Array, manifest: ImageManifest, extras: { readonly sourceMap?: Uint8Array; readonly created?: Date } = {}): { entry: ImageIndexEntry; added: boolean } {
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
    writeFileSync(join(tmp, MANIFEST_FILE), renderManifest(manifest));
    const entry: ImageIndexEntry = {
      name: manifest.name,
      id: manifest.id,
      created: created.toISOString(),
      size: manifest.size,
      modules: manifest.modules.length,
      memoryMiB: manifest.memoryMiB,
      buildKey: manifest.build.key,
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
        const known = images.find((e) => e.id === manifest.id);
        if (known !== undefined) {
          result = known;
          return images;
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

  /** Removes image `ref` (id or prefix) from the index and deletes its directory. */
  remove(ref: string): ImageIndexEntry {
    const entry = this.resolve(ref);
    this.updateIndex((images) => {
      rmSync(join(this.dir, entry.id), { recursive: true, force: true });
      return images.filter((e) => e.id !== entry.id);
    });
    return entry;
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
      const created = old.find((e) => e.id === name)?.created ?? statSync(file).mtime.toISOString();
      out.push({
        name: manifest.name,
        id: manifest.id,
        created,
        size: manifest.size,
        modules: manifest.modules.length,
        memoryMiB: manifest.memoryMiB,
        buildKey: manifest.build.key,
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

  private updateIndex(change: (images: ImageIndexEntry[]) => ImageIndexEntry[]): void {
    mkdirSync(this.dir, { recursive: true });
    const release = this.lock();
    try {
      const file = join(this.dir, INDEX_FILE);
      const images = sortEntries(change(existsSync(file) ? this.readIndex().images : this.scan([])));
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

function sortEntries(images: ImageIndexEntry[]): ImageIndexEntry[] {
  return images.sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
