/**
 * The directories a controller lets chain specs read and write files in (pcap ports'
 * `read` and `write`), given to `nfvkit up` as `--data-dir` (default `.nfvkit/data` under
 * the working directory, holding `read/` and `write/`) or separately as `--read-dir` and
 * `--write-dir`. A spec names files by paths relative to these directories; nothing a
 * client sends (its `source` name, an absolute path, `..`) can name another place.
 *
 * Reading: the path must pass `dataPathProblem` (relative, no `..`); its real path (every
 * symbolic link followed) must lie inside the read directory; the entry must be a regular
 * file (checked with `lstat` before opening, so a FIFO or device is never opened); it is
 * opened with `O_NOFOLLOW | O_NONBLOCK`, checked again with `fstat` (same inode, still a
 * regular file) and, on Linux, by the descriptor's `/proc/self/fd` path; then read with
 * `fs.promises` (the event loop keeps running).
 *
 * Writing: intermediate directories are created inside the write directory (one at a time;
 * a symbolic link among them must lead to a directory inside it); the target must be
 * absent or a regular file (a symbolic link, FIFO, device or directory is refused); the
 * bytes go to a new temporary file beside it (`O_CREAT | O_EXCL | O_NOFOLLOW`), which is
 * flushed and renamed over the target.
 *
 * Every refusal is a `DataPathError` naming the spec field, the path as given and the
 * reason; no message carries anything read from the file, nor its size.
 *
 * @example
 * ```ts
 * const data = DataDir.resolve({ dataDir: '/srv/nfvkit' });
 * const bytes = await data.readFile('captures/in.pcap', 'spec.ingress.read');
 * await data.writeFile('out/run-1.pcap', bytes, 'spec.egress.write');
 * ```
 */
import { constants, promises as fs, type Stats } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { DataPathError } from '../errors/catalog.ts';
import { dataPathProblem, quotePath } from '../spec/data-path.ts';

/** Default data directory, relative to the controller's working directory. */
export const DEFAULT_DATA_DIR = '.nfvkit/data';

/** Where the data directories are; unset fields use the defaults described on `DataDir`. */
export interface DataDirOptions {
  /** Root of the controller's data (default `.nfvkit/data` under the working directory). */
  readonly dataDir?: string;
  /** Directory spec paths are read from (default `<dataDir>/read`). */
  readonly readDir?: string;
  /** Directory spec paths are written to (default `<dataDir>/write`). */
  readonly writeDir?: string;
}

/** The resolved data directories of one controller; see the module comment. */
export class DataDir {
  /** Absolute root of the controller's data. */
  readonly root: string;
  /** Absolute directory spec `read` paths resolve in. */
  readonly readDir: string;
  /** Absolute directory spec `write` paths resolve in. */
  readonly writeDir: string;
  private ensured: Promise<void> | undefined;

  private constructor(root: string, readDir: string, writeDir: string) {
    this.root = root;
    this.readDir = readDir;
    this.writeDir = writeDir;
  }

  /** The directories `options` name, made absolute against `cwd` (nothing is created yet). */
  static resolve(options: DataDirOptions = {}, cwd = process.cwd()): DataDir {
    const root = resolve(cwd, options.dataDir ?? DEFAULT_DATA_DIR);
    const readDir = options.readDir === undefined ? join(root, 'read') : resolve(cwd, options.readDir);
    const writeDir = options.writeDir === undefined ? join(root, 'write') : resolve(cwd, options.writeDir);
    return new DataDir(root, readDir, writeDir);
  }

  /** Creates the read and write directories (and the root) when missing; once. */
  ensure(): Promise<void> {
    this.ensured ??= (async () => {
      for (const dir of [this.root, this.readDir, this.writeDir]) {
        await fs.mkdir(dir, { recursive: true, mode: 0o750 });
        const st = await fs.stat(dir);
        if (!st.isDirectory()) throw new DataPathError(`data directory ${dir} is not a directory`);
      }
    })();
    const ensured = this.ensured;
    ensured.catch(() => {
      if (this.ensured === ensured) this.ensured = undefined;
    });
    return ensured;
  }

  /**
   * The bytes of the regular file `path` names inside the read directory. `field` names
   * the spec field for messages (`spec.ingress.read`).
   */
  async readFile(path: string, field: string): Promise<Uint8Array> {
    const refuse = refuser(field, path, 'read directory');
    checkLexical(path, refuse);
    await this.ensure();
    const root = await fs.realpath(this.readDir);
    let real: string;
    try {
      real = await fs.realpath(join(root, path));
    } catch (err) {
      throw refuse(errnoReason(err));
    }
    if (!inside(root, real)) throw refuse('a symbolic link leads outside the read directory');
    const before = await fs.lstat(real).catch((err: unknown) => {
      throw refuse(errnoReason(err));
    });
    if (!before.isFile()) throw refuse(`not a regular file (${kindOf(before)}); only regular files are read`);
    let handle: FileHandle;
    try {
      handle = await fs.open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (err) {
      throw refuse(errnoReason(err));
    }
    try {
      const after = await handle.stat();
      if (!after.isFile() || after.ino !== before.ino || after.dev !== before.dev) throw refuse('the file changed while it was being opened');
      const opened = await descriptorPath(handle.fd);
      if (opened !== undefined && !inside(root, opened)) throw refuse('the file opened lies outside the read directory');
      return new Uint8Array(await handle.readFile());
    } finally {
      await handle.close();
    }
  }

  /**
   * Checks that `path` can be written inside the write directory (creating its parent
   * directories there) and returns the absolute path the file will have.
   */
  async prepareWrite(path: string, field: string): Promise<string> {
    const refuse = refuser(field, path, 'write directory');
    checkLexical(path, refuse);
    await this.ensure();
    const root = await fs.realpath(this.writeDir);
    const segments = path.split(/[/\\]/).filter((s) => s !== '' && s !== '.');
    const name = segments.pop()!;
    let dir = root;
    for (const segment of segments) {
      const next = join(dir, segment);
      let st = await lstatOrUndefined(next, refuse);
      if (st === undefined) {
        await fs.mkdir(next, { mode: 0o750 }).catch((err: unknown) => {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw refuse(errnoReason(err));
        });
        st = await lstatOrUndefined(next, refuse);
        if (st === undefined) throw refuse('a parent directory vanished while it was being created');
      }
      if (st.isSymbolicLink()) {
        const real = await fs.realpath(next).catch((err: unknown) => {
          throw refuse(errnoReason(err));
        });
        if (!inside(root, real)) throw refuse('a symbolic link leads outside the write directory');
        if (!(await fs.stat(real)).isDirectory()) throw refuse(`${quotePath(segment)} is not a directory`);
        dir = real;
      } else if (st.isDirectory()) dir = next;
      else throw refuse(`${quotePath(segment)} is not a directory`);
    }
    const target = join(dir, name);
    const existing = await lstatOrUndefined(target, refuse);
    if (existing !== undefined && !existing.isFile()) throw refuse(`the existing entry is not a regular file (${kindOf(existing)}); writes create or replace regular files only`);
    return target;
  }

  /**
   * Writes `bytes` to `path` inside the write directory: a new temporary file beside the
   * target, flushed, then renamed over it (readers see the old file or the new one).
   */
  async writeFile(path: string, bytes: Uint8Array, field: string): Promise<void> {
    const refuse = refuser(field, path, 'write directory');
    const target = await this.prepareWrite(path, field);
    const temp = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    let handle: FileHandle;
    try {
      handle = await fs.open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o640);
    } catch (err) {
      throw refuse(errnoReason(err));
    }
    try {
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      const root = await fs.realpath(this.writeDir);
      if (!inside(root, await fs.realpath(dirname(target)))) throw refuse('the target directory moved outside the write directory');
      await fs.rename(temp, target).catch((err: unknown) => {
        throw refuse(errnoReason(err));
      });
    } catch (err) {
      await fs.unlink(temp).catch(() => undefined);
      throw err;
    }
  }
}

type Refuse = (reason: string) => DataPathError;

function refuser(field: string, path: string, where: string): Refuse {
  return (reason) => new DataPathError(`${field} ${quotePath(path)} (in the controller's ${where}): refused: ${reason}`);
}

function checkLexical(path: string, refuse: Refuse): void {
  const problem = dataPathProblem(path);
  if (problem !== undefined) throw refuse(problem);
}

async function lstatOrUndefined(path: string, refuse: Refuse): Promise<Stats | undefined> {
  try {
    return await fs.lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw refuse(errnoReason(err));
  }
}

/** True when `path` is `root` itself or below it (both real, absolute). */
function inside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** The path a descriptor was opened at (Linux `/proc/self/fd`), or undefined where unknown. */
async function descriptorPath(fd: number): Promise<string | undefined> {
  if (process.platform !== 'linux') return undefined;
  return fs.readlink(`/proc/self/fd/${fd}`).catch(() => undefined);
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

/** A reason for a failed system call, from its code only (no system message, no path). */
function errnoReason(err: unknown): string {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'ENOENT':
      return 'no such file';
    case 'ENOTDIR':
      return 'a parent in the path is not a directory';
    case 'ELOOP':
      return 'too many symbolic links, or a symbolic link where none may be';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    case 'ENAMETOOLONG':
      return 'the path is too long';
    case 'ENOSPC':
    case 'EDQUOT':
      return 'no space left on the device';
    case 'EROFS':
      return 'the file system is read-only';
    default: {
      const code = (err as NodeJS.ErrnoException).code;
      return typeof code === 'string' && /^E[A-Z]+$/.test(code) ? `system error ${code}` : 'cannot be accessed';
    }
  }
}
