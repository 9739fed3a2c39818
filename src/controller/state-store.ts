/**
 * The controller's desired state on disk, so that chains survive a restart: every applied
 * spec (YAML text and source name), its generation and the replicas wanted per function
 * (ScaleFunction or the autoscaler).
 *
 * One snapshot file, `state.json`, replaced whole on every change: the new snapshot is
 * written to `state.json.tmp`, fsynced, renamed over the old one and the directory fsynced.
 * A reader therefore sees the old or the new snapshot, never a mix; a `SIGKILL` at any
 * point leaves at worst a torn `state.json.tmp`, which is ignored (and removed at open).
 * The snapshot's first line carries a SHA-256 of the body and its length, so a file damaged
 * by other means (disk, editor) is refused as a whole with a clear error, never read in part.
 *
 * File format: `nfvkit-state 1 <sha256 hex of body> <body bytes>\n<body JSON>`.
 *
 * A `lock` file holds the pid of the process that has the directory open: a second
 * controller on the same directory is refused while that process lives.
 *
 * @example
 * ```ts
 * const store = StateStore.open('.nfvkit/state');
 * const { chains } = store.load();
 * await store.save({ chains: [{ name: 'edge', source: 'edge.yaml', specYaml, generation: 2, appliedAt: Date.now(), replicas: { fw: 2 } }] });
 * store.close();
 * ```
 */
import { BACKEND_STATE_NAMES, type BackendStateName } from '../backends/backend-control-layout.ts';
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { StateStoreError } from '../errors/catalog.ts';

/** Default state directory of `nfvkit up` (`state/` in its default data directory `.nfvkit/data`). */
export const DEFAULT_STATE_DIR = '.nfvkit/data/state';
/** Environment variable naming the state directory when `--state-dir` is not given. */
export const STATE_DIR_ENV = 'NFVKIT_STATE_DIR';

/** Name of the snapshot file inside the state directory. */
export const STATE_FILE = 'state.json';
const TEMP_FILE = `${STATE_FILE}.tmp`;
const LOCK_FILE = 'lock';
const MAGIC = 'nfvkit-state';
const FORMAT_VERSION = 1;

/** One applied chain as stored. */
export interface StoredChain {
  readonly name: string;
  /** Where the spec came from (the `source` of the apply: a file name or `-`). */
  readonly source: string;
  /** The spec's YAML text, exactly as applied. */
  readonly specYaml: string;
  /** Generation: 1 when created, +1 per changed apply. */
  readonly generation: number;
  /** Unix time in ms of the last changed apply. */
  readonly appliedAt: number;
  /** Replicas wanted per function runtime (its name; `fused` for a fused chain's unit). */
  readonly replicas: Readonly<Record<string, number>>;
  /**
   * Backend states set at run time (`SetBackendState`) that differ from the configuration:
   * function name → `"<service> <backend>"` → state. Left out when there are none.
   */
  readonly backends?: Readonly<Record<string, Readonly<Record<string, BackendStateName>>>>;
}

/** The whole desired state: every applied chain. */
export interface StoredState {
  readonly chains: readonly StoredChain[];
}

const storedChainSchema = z
  .object({
    name: z.string().min(1),
    source: z.string(),
    specYaml: z.string(),
    generation: z.number().int().min(1),
    appliedAt: z.number(),
    replicas: z.record(z.string(), z.number().int().min(0)),
    backends: z.record(z.string(), z.record(z.string(), z.enum(BACKEND_STATE_NAMES))).optional(),
  })
  .strict();
const storedStateSchema = z.object({ chains: z.array(storedChainSchema) }).strict();

/** The snapshot file's bytes for `state`. */
function encodeSnapshot(state: StoredState): Buffer {
  const body = Buffer.from(JSON.stringify({ chains: state.chains }), 'utf8');
  const digest = createHash('sha256').update(body).digest('hex');
  return Buffer.concat([Buffer.from(`${MAGIC} ${FORMAT_VERSION} ${digest} ${body.length}\n`, 'utf8'), body]);
}

/** The state in a snapshot file's bytes; throws {@link StateStoreError} naming `file` and what is wrong. */
export function decodeSnapshot(bytes: Buffer, file: string): StoredState {
  const refuse = (why: string): never => {
    throw new StateStoreError(`state snapshot ${file} is corrupt: ${why}; nothing was restored (move the file away to start empty, or restore it from a backup)`);
  };
  const newline = bytes.indexOf(0x0a);
  if (newline < 0 || newline > 200) refuse('no header line');
  const header = /^nfvkit-state (\d+) ([0-9a-f]{64}) (\d+)$/.exec(bytes.subarray(0, newline).toString('latin1'));
  if (header === null) refuse('the header line is not "nfvkit-state <version> <sha256> <length>"');
  const [, version, digest, length] = header!;
  if (Number(version) !== FORMAT_VERSION) refuse(`format version ${version}, this nfvkit reads version ${FORMAT_VERSION}`);
  const body = bytes.subarray(newline + 1);
  if (body.length !== Number(length)) refuse(`body is ${body.length} bytes, the header says ${length}`);
  if (createHash('sha256').update(body).digest('hex') !== digest) refuse('checksum mismatch');
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch (err) {
    refuse(`body is not JSON (${(err as Error).message})`);
  }
  const parsed = storedStateSchema.safeParse(json);
  if (!parsed.success) refuse(`unexpected content at ${parsed.error.issues[0].path.join('.') || '(root)'}: ${parsed.error.issues[0].message}`);
  const names = new Set<string>();
  for (const chain of parsed.data!.chains) {
    if (names.has(chain.name)) refuse(`chain "${chain.name}" is stored twice`);
    names.add(chain.name);
  }
  return parsed.data!;
}

/** Whether a process with this pid exists (EPERM: it exists, owned by someone else). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** fsync of a directory, so a rename in it is durable. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * The controller's desired state in a directory: {@link StateStore.load} at start,
 * {@link StateStore.save} after every change (saves run one at a time, in call order).
 */
export class StateStore {
  /** The state directory (absolute). */
  readonly dir: string;
  /** The snapshot file (absolute). */
  readonly file: string;
  private readonly tempFile: string;
  private readonly lockFile: string;
  private writes: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(dir: string) {
    this.dir = resolve(dir);
    this.file = join(this.dir, STATE_FILE);
    this.tempFile = join(this.dir, TEMP_FILE);
    this.lockFile = join(this.dir, LOCK_FILE);
  }

  /**
   * Opens (creating it if needed) the state directory `dir`: takes its lock (refused while
   * another live process holds it; a stale lock from a killed process is taken over) and
   * removes a temp file a killed writer left.
   */
  static open(dir: string): StateStore {
    const store = new StateStore(dir);
    try {
      mkdirSync(store.dir, { recursive: true });
    } catch (err) {
      throw new StateStoreError(`cannot create the state directory ${store.dir}: ${(err as Error).message}`, { cause: err });
    }
    store.lock();
    try {
      rmSync(store.tempFile, { force: true });
    } catch (err) {
      throw new StateStoreError(`cannot remove the leftover ${store.tempFile}: ${(err as Error).message}`, { cause: err });
    }
    return store;
  }

  /** The stored state (no chains when nothing was saved yet). Throws {@link StateStoreError} when the snapshot is corrupt or unreadable. */
  load(): StoredState {
    let bytes: Buffer;
    try {
      bytes = readFileSync(this.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { chains: [] };
      throw new StateStoreError(`cannot read the state snapshot ${this.file}: ${(err as Error).message}`, { cause: err });
    }
    return decodeSnapshot(bytes, this.file);
  }

  /**
   * Replaces the stored state with `state` atomically and durably (temp file, fsync,
   * rename, fsync of the directory). Resolves once it is on disk; rejects with
   * {@link StateStoreError} when it could not be written (the previous snapshot stays).
   */
  save(state: StoredState): Promise<void> {
    if (this.closed) return Promise.reject(new StateStoreError(`state store ${this.dir} is closed`));
    const bytes = encodeSnapshot(state);
    const write = this.writes.then(() => this.writeSnapshot(bytes));
    this.writes = write.catch(() => undefined);
    return write;
  }

  /** Waits for pending saves and releases the directory's lock. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writes;
    try {
      if (readFileSync(this.lockFile, 'utf8').trim() === String(process.pid)) rmSync(this.lockFile, { force: true });
    } catch {
      // no lock left: nothing to release
    }
  }

  private async writeSnapshot(bytes: Buffer): Promise<void> {
    try {
      const handle = await open(this.tempFile, 'w', 0o600);
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(this.tempFile, this.file);
      await syncDirectory(this.dir);
    } catch (err) {
      throw new StateStoreError(`cannot write the state snapshot ${this.file}: ${(err as Error).message}`, { cause: err });
    }
  }

  private lock(): void {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(this.lockFile, 'wx', 0o600);
        try {
          writeFileSync(fd, `${process.pid}\n`);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new StateStoreError(`cannot lock the state directory ${this.dir}: ${(err as Error).message}`, { cause: err });
      }
      let holder = Number.NaN;
      try {
        holder = Number.parseInt(readFileSync(this.lockFile, 'utf8').trim(), 10);
      } catch {
        // vanished or unreadable: treat as stale
      }
      if (holder === process.pid) return;
      if (Number.isInteger(holder) && holder > 0 && processAlive(holder)) {
        throw new StateStoreError(`state directory ${this.dir} is in use by process ${holder} (another controller?); stop it or choose another --state-dir (remove ${this.lockFile} if no such controller runs)`);
      }
      rmSync(this.lockFile, { force: true });
    }
    throw new StateStoreError(`cannot lock the state directory ${this.dir}: another process keeps taking ${this.lockFile}`);
  }
}
