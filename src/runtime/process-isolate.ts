/**
 * An instance as its own OS process, seen by `InstanceHost` through the same events as a
 * worker thread (`online`, `message`, `error`, `exit`, `terminate()`). The process runs
 * `src/runtime/instance-process.ts` (bundled; never import it here: importing it starts an
 * instance); see there for its descriptors.
 *
 * Nothing the process writes is trusted: its messages are JSON lines on a pipe, each at
 * most `MAX_MESSAGE_BYTES`, parsed and checked against the instance protocol (`parseProcessMessage`) (a line that
 * is too long, not JSON or not a known message makes the instance fail as `crashed` with
 * a protocol reason); only the last `STDERR_TAIL_BYTES` of its stderr are kept, for the
 * failure detail.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { InvalidArgumentError } from '../errors/catalog.ts';
import type { MemfdMemory, SharedRange } from '../memory/shared-memory.ts';
import { encodeSharedRefs } from '../memory/shared-refs.ts';
import { loadNativeAddon } from '../native/native-addon.ts';
import type { InstanceMessage, InstanceWorkerData } from './instance-main.ts';
import { SANDBOX_UID } from './sandbox-reasons.ts';
import { parseProcessMessage } from './process-messages.ts';
import { COLD_ARGUMENT, ProcessFd, type ProcessArmMessage, type ProcessBootMessage, type ProcessPreloadMessage } from './instance-process-protocol.ts';

/** Longest message line an instance process may write. */
export const MAX_MESSAGE_BYTES = 16 * 1024;
/** Bytes of an instance process's stderr kept for its failure detail. */
export const STDERR_TAIL_BYTES = 4096;

/** How an instance process enters its sandbox (uid −1 keeps the uid); null: none. */
export type ProcessSandbox = { readonly uid: number; readonly gid: number } | null;

/**
 * An instance process. The constructor starts it (the bootstrap, the ESM loader warmed,
 * then waiting for its boot message); `boot` hands it an image, its data and the memory to
 * map. A process started ahead (`WarmProcessPool`) says `idle` once it waits, and maps
 * the memory through `/proc/<controller>/fd/<memfd>` (it was started before the memfd
 * existed); one started for a known memory gets the memfd as its fd 4.
 */
export class ProcessIsolate extends EventEmitter {
  readonly child: ChildProcess;
  /** True while the process waits for its boot message with the loader warm and every image sent to `preload` imported. */
  idle = false;
  private preloadsSent = 0;
  private idleSaid = 0;
  /** Started ahead by a `WarmProcessPool`, before its memory was known. */
  readonly prestarted: boolean;
  private stderrTail = '';
  private exited = false;
  private booted = false;
  private armed = false;
  private readonly exit: Promise<void>;
  private readonly memoryFd: number | undefined;

  /**
   * Starts a process with a heap of `memoryMiB` running `bootstrap`; `memory`, when known,
   * becomes its fd 4; a warm pool's `warmMemory` its fd 5.
   */
  constructor(memoryMiB: number, bootstrap: string, memory?: MemfdMemory, warmMemory?: MemfdMemory) {
    super();
    this.memoryFd = memory?.fd;
    this.prestarted = memory === undefined;
    const native = loadNativeAddon();
    // One libuv pool thread and one V8 worker thread: an instance reads files only before
    // its sandbox, has no asynchronous native call and a small heap; every thread more is
    // one more for the sandbox to synchronise (setuid signals each one, seccomp TSYNC
    // installs the filter on each) and one more stack.
    const env: Record<string, string> = { UV_USE_IO_URING: '0', UV_THREADPOOL_SIZE: '1' };
    if (native.available) env.NFVKIT_NATIVE_ADDON = native.path;
    // No V8 flag: any flag off its default changes V8's flag hash, and V8 then refuses the
    // code cache of Node's own modules (~25 ms more to start). The bootstrap sets its heap
    // limit itself (the addon's `heapLimit`; `--v8-pool-size` is Node's, not V8's).
    const args = ['--v8-pool-size=1', bootstrap, String(memoryMiB), ...(memory === undefined ? [] : [COLD_ARGUMENT])];
    this.child = spawn(process.execPath, args, {
      env,
      // As root, started in the sandbox's group with no supplementary groups (uid 0 still
      // reads what it must before the sandbox): entering the sandbox then changes only the
      // uid. Each change of ids stops every thread of the process (glibc's setxid), and
      // with the machine busy each stop waits for those threads to be scheduled.
      ...(process.getuid?.() === 0 ? { gid: SANDBOX_UID } : {}),
      stdio: ['pipe', 'inherit', 'pipe', 'pipe', memory === undefined ? 'ignore' : memory.fd, warmMemory === undefined ? 'ignore' : warmMemory.fd, 'pipe'],
    });
    let exited: () => void = () => {};
    this.exit = new Promise((resolve) => (exited = resolve));
    this.child.once('exit', () => exited());
    (this.child.stdin as Writable).on('error', () => {}); // a process that died early: its exit says why
    this.child.once('spawn', () => this.emit('online'));
    this.child.on('error', (err) => {
      this.emit('error', err);
      if (this.child.pid === undefined && !this.exited) {
        // It never started: no 'exit' will come.
        this.exited = true;
        exited();
        this.emit('exit', 127);
      }
    });
    (this.child.stderr as Readable).on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
    });
    this.readMessages(this.child.stdio[3] as Readable);
    this.child.once('exit', (code, signal) => {
      this.exited = true;
      if (/heap out of memory|Allocation failed/.test(this.stderrTail)) {
        this.emit('error', Object.assign(new Error(`heap limit of ${memoryMiB} MiB reached`), { code: 'ERR_WORKER_OUT_OF_MEMORY' }));
      } else if (code !== 0) {
        const tail = this.stderrTail.trim().split('\n').slice(-3).join(' | ');
        this.emit('error', new Error(`process exited with ${signal ?? `code ${code}`}${tail === '' ? '' : `: ${tail}`}`));
      }
      this.emit('exit', code ?? 128);
    });
  }

  /**
   * The wake pipe (the process's fd 6): a byte arrives whenever the instance rings the
   * host's interrupt (`InstanceWorkerData.hostIrqFd`). The data plane listens to it.
   */
  get wakes(): Readable {
    return (this.child.stdio as unknown as Readable[])[ProcessFd.HOST_WAKE];
  }

  /** True while it runs and has not been booted (a warm pool may hand it out). */
  get available(): boolean {
    return !this.exited && !this.booted;
  }

  /**
   * Has the idle process import `imagePath` ahead and rehearse its start-up, or, given
   * `counters` (a range of the warm memory it got as fd 5), build its pipeline there (before `boot`).
   */
  preload(imagePath: string, counters?: ProcessPreloadMessage['counters']): void {
    if (this.booted || this.exited) return;
    this.preloadsSent++;
    this.idle = false;
    const message: ProcessPreloadMessage = counters === undefined ? { type: 'preload', imagePath } : { type: 'preload', imagePath, counters };
    (this.child.stdin as Writable).write(`${JSON.stringify(message)}\n`);
  }

  /**
   * Tells the process, taken for an instance, to map `memory` now and (see
   * `ProcessArmMessage`) enter `sandbox` now, counting denied calls in `sandboxSab` (of
   * `memory`; the instance's `sandboxSab`), so that both overlap the host's set-up. `files`:
   * the boot will import runtime bundles. `touch`: ranges of `memory` the boot writes to,
   * whose pages the process maps now. At most once, before `boot`, which must then name
   * the same memory.
   */
  arm(imagePath: string, memory: MemfdMemory, sandbox: ProcessSandbox, sandboxSab: SharedArrayBuffer, files: boolean, touch: readonly SharedRange[] = []): void {
    if (this.booted || this.armed) throw new InvalidArgumentError('an instance process is armed once, before its boot');
    const counters = memory.locate(sandboxSab);
    if (counters === undefined) throw new InvalidArgumentError('the sandbox counters must lie in the memory armed');
    for (const r of touch) {
      if (!Number.isSafeInteger(r.offset) || !Number.isSafeInteger(r.length) || r.offset < 0 || r.length < 1 || r.offset + r.length > memory.bytes) {
        throw new InvalidArgumentError(`a range to touch must lie in the memory armed, got ${r.offset} + ${r.length}`);
      }
    }
    this.armed = true;
    const message: ProcessArmMessage = {
      type: 'arm',
      imagePath,
      memory: { path: `/proc/${process.pid}/fd/${memory.fd}`, bytes: memory.bytes },
      sandbox: sandbox === null ? null : { uid: sandbox.uid, gid: sandbox.gid, counters },
      files,
      ...(touch.length === 0 ? {} : { touch: touch.map((r) => ({ offset: r.offset, length: r.length })) }),
    };
    (this.child.stdin as Writable).write(`${JSON.stringify(message)}\n`);
  }

  /** Hands the process its instance: `data`'s buffers must come from `memory` (or, prepared counters, `warmMemory`). Once. */
  boot(imagePath: string, data: InstanceWorkerData, memory: MemfdMemory, sandbox: ProcessSandbox, warmMemory?: MemfdMemory): void {
    if (this.booted) throw new InvalidArgumentError('an instance process boots once');
    this.booted = true;
    const message: ProcessBootMessage = {
      type: 'boot',
      imagePath,
      memory: this.memoryFd === memory.fd ? { fd: ProcessFd.MEMORY, bytes: memory.bytes } : { path: `/proc/${process.pid}/fd/${memory.fd}`, bytes: memory.bytes },
      data: encodeSharedRefs(data.hostIrqSab === undefined ? data : { ...data, hostIrqFd: ProcessFd.HOST_WAKE }, warmMemory === undefined ? [memory] : [memory, warmMemory]),
      sandbox,
    };
    (this.child.stdin as Writable).end(`${JSON.stringify(message)}\n`);
  }

  /** The process id. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Kills the process (SIGKILL) and resolves once it is gone. */
  async terminate(): Promise<void> {
    if (!this.exited) this.child.kill('SIGKILL');
    await this.exit;
  }

  private readMessages(stream: Readable): void {
    let buffered = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffered += chunk;
      for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
        this.onLine(buffered.slice(0, end));
        buffered = buffered.slice(end + 1);
      }
      if (buffered.length > MAX_MESSAGE_BYTES) {
        buffered = '';
        this.protocolError(`a message line longer than ${MAX_MESSAGE_BYTES} B`);
      }
    });
  }

  private onLine(line: string): void {
    if (line.length > MAX_MESSAGE_BYTES) return this.protocolError(`a message line longer than ${MAX_MESSAGE_BYTES} B`);
    const m = parseProcessMessage(line);
    if (typeof m === 'string') return this.protocolError(m);
    if (m.type === 'crashed') this.emit('error', Object.assign(new Error(m.message), { name: m.name }));
    else if (m.type === 'idle') {
      // Once after warming up, once after each preload.
      this.idleSaid++;
      this.idle = this.idleSaid > this.preloadsSent;
      if (this.idle) this.emit('idle');
    } else this.emit('message', m satisfies InstanceMessage);
  }

  private protocolError(what: string): void {
    this.emit('error', Object.assign(new Error(`protocol violation: ${what}`), { code: 'NFVKIT_INSTANCE_PROTOCOL' }));
    void this.terminate();
  }
}
