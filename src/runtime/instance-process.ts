/**
 * The entry of an instance process (bundled to `.nfvkit/runtime/instance-process-*.mjs`,
 * see `processBootstrapPath`). The host starts `node <this> <heap MiB> [cold]`
 * (`ProcessArg`; no V8 flag, see `ProcessIsolate`) with an empty environment (no secret;
 * only where the native addon is) and these descriptors:
 *
 * | fd | what |
 * |---|---|
 * | 0 | the host's lines (`ProcessHostMessage`): images to preload, an `arm` when a warm pool takes the process (map the memory, maybe enter the sandbox), then the boot message; then the host closes its end (fd 0 stays open: a freed fd 0 would be reused by the next descriptor opened, which the runtime's own child-process code takes for stdin) |
 * | 2 | stderr (the host keeps its tail for the failure detail) |
 * | 3 | messages to the host, one JSON line each (`InstanceMessage`, or `{ type: 'crashed' }`) |
 * | 4 | the data plane's sealed memfd (pool, rings, counters, wait words), when it existed at spawn; else the boot message names `/proc/<host>/fd/<n>` |
 * | 5 | a warm pool's memfd, where the pipelines it builds ahead keep their counters (processes started ahead only) |
 * | 6 | the host's wake pipe: one byte per ring of the host's interrupt (its loop reads it) |
 *
 * It lowers its heap limit to the given MiB first (the addon's `heapLimit`), warms the ESM
 * loader and `performance`, collects its garbage, says `idle`, reads the boot message (blocking reads, see `hostLine`), maps the memfd, rebuilds the `InstanceWorkerData` from the ranges in the message,
 * leaves it under `Symbol.for(PROCESS_BOOT_KEY)` and imports the image, whose
 * `startInstanceIfBooted` runs the instance on this thread. Right before the instance says
 * `ready` (pool and devices attached, pipeline built, ports opened) it enters the sandbox:
 * from then on the process cannot open files, make sockets, run programs, signal or trace
 * other processes (see `src/runtime/sandbox-reasons.ts`).
 *
 * This module is an entry point: importing it starts an instance. The protocol's types and
 * descriptor numbers are in `instance-process-protocol.ts`.
 *
 * Messages go out with blocking writes: the instance loop holds the thread, so nothing
 * may wait for the event loop.
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { decodeSharedRefs, SHARED_REF } from '../memory/shared-refs.ts';
import { MappedMemory } from '../memory/shared-memory.ts';
import { nativeAddonOrNull } from '../native/native-addon.ts';
import { PROCESS_BOOT_KEY, type InstanceMessage, type InstanceWorkerData, type PreloadedImage, type ProcessBoot } from './instance-main.ts';
import { COLD_ARGUMENT, ProcessArg, ProcessFd, type ProcessBootMessage, type ProcessArmMessage, type ProcessCrash, type ProcessHostMessage, type ProcessIdle, type ProcessPreloadMessage } from './instance-process-protocol.ts';

function send(message: InstanceMessage | ProcessCrash | ProcessIdle): void {
  writeSync(ProcessFd.MESSAGES, `${JSON.stringify(message)}\n`);
}

/** Longest line the host may send on fd 0 (a boot message holds the instance's ranges). */
const MAX_HOST_LINE_BYTES = 1 << 20;

const NEWLINE = 0x0a;
/** Bytes read from fd 0 and not yet returned as lines: `hostBytes[0, hostLength)`. */
let hostBytes = Buffer.allocUnsafe(64 * 1024);
let hostLength = 0;
/** Waited on (never notified) to sleep between reads of a non-blocking fd 0. */
const napWord = new Int32Array(new SharedArrayBuffer(4));

/**
 * The host's lines on fd 0, one at a time, read with blocking reads: an idle process has
 * nothing else to do, and the kernel wakes a blocked read at once where a stream read
 * waits for a turn of the event loop (a boot message reached the instance ~2 ms later that
 * way). Returns undefined when the host closed fd 0.
 */
function hostLine(): string | undefined {
  for (;;) {
    const end = hostBytes.subarray(0, hostLength).indexOf(NEWLINE);
    if (end >= 0) {
      const line = hostBytes.toString('utf8', 0, end);
      hostBytes.copy(hostBytes, 0, end + 1, hostLength);
      hostLength -= end + 1;
      return line;
    }
    if (hostLength === hostBytes.length) {
      if (hostBytes.length >= MAX_HOST_LINE_BYTES) throw new Error(`a host line longer than ${MAX_HOST_LINE_BYTES} B`);
      const grown = Buffer.allocUnsafe(hostBytes.length * 2);
      hostBytes.copy(grown, 0, 0, hostLength);
      hostBytes = grown;
    }
    let n: number;
    try {
      n = readSync(ProcessFd.BOOT, hostBytes, hostLength, hostBytes.length - hostLength, null);
    } catch (err) {
      // A descriptor left non-blocking: wait a little and read again.
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(napWord, 0, 0, 1);
      continue;
    }
    if (n === 0) return undefined;
    hostLength += n;
  }
}
/** Images imported ahead (`preload` lines), by path, and whether their pipeline was built ahead: a boot of one only runs its start-up. */
const preloaded = new Map<string, { readonly image: PreloadedImage; readonly prepared: boolean }>();

/** The warm pool's memfd (fd 5), mapped on the first preload that prepares a pipeline. */
let warmMemory: MappedMemory | undefined;

/**
 * Imports `imagePath` without booting it (the image hands over its `PreloadedImage`), and
 * builds its pipeline on the given range of the warm memory (or only rehearses its start-up).
 */
async function preload(message: ProcessPreloadMessage): Promise<void> {
  const imagePath = message.imagePath;
  if (preloaded.has(imagePath)) return;
  const key = Symbol.for(PROCESS_BOOT_KEY);
  const g = globalThis as Record<symbol, unknown>;
  let image: PreloadedImage | undefined;
  g[key] = (x: PreloadedImage) => (image = x);
  try {
    await import(pathToFileURL(imagePath).href);
  } finally {
    delete g[key];
  }
  if (image === undefined) return; // not an image: a boot of it fails as it would cold
  const counters = message.counters;
  if (counters !== undefined && image.counterCount * 8 <= counters.length) {
    warmMemory ??= MappedMemory.attach(ProcessFd.WARM_MEMORY, counters.warmBytes);
    image.prepare(warmMemory.view(counters));
    rehearseBoot(counters);
    preloaded.set(imagePath, { image, prepared: true });
  } else {
    image.rehearse();
    preloaded.set(imagePath, { image, prepared: false });
  }
  for (let i = 1; i < STARTUP_REHEARSALS; i++) image.rehearse();
}

/**
 * Times a preloaded image's start-up runs on scratch memory before a boot (`rehearse`): run
 * once, the attach still ran interpreted at the boot; a few more runs let V8 compile it (in
 * alternating boots on the loaded VM, 7 runs against 1 took the attach step from ~1.0 to
 * ~0.7 ms of wall time, direction only). Idle time only: the scratch memory is collected
 * before the process says idle.
 */
const STARTUP_REHEARSALS = 7;

/**
 * The data plane's memory mapped ahead (`arm`), and whether the sandbox was entered then
 * (`entering`: being entered on the addon's thread, finished right before `ready`).
 */
let armed: { readonly path: string; readonly bytes: number; readonly mapped: MappedMemory; readonly sandboxed: 'no' | 'entering' | 'entered' } | undefined;

/** Opens and maps the memfd at `path` (`/proc/<host>/fd/<n>`). */
function mapPath(path: string, bytes: number): MappedMemory {
  const fd = openSync(path, 'r+');
  try {
    return MappedMemory.attach(fd, bytes);
  } finally {
    closeSync(fd);
  }
}

/**
 * Enters the sandbox (the addon's `sandboxEnter`): from then on denied calls fail and are
 * counted in `counters`, shared memory the host reads.
 */
function enterSandbox(counters: SharedArrayBuffer | undefined, sandbox: { readonly uid: number; readonly gid: number }): void {
  const addon = nativeAddonOrNull();
  if (addon === null || counters === undefined) throw new Error('the sandbox needs the native addon and its counter memory');
  addon.sandboxEnter(new Int32Array(counters), sandbox.uid, sandbox.gid);
}

/**
 * Maps the data plane's memory ahead of the boot message and, when the boot will read no
 * file (its image preloaded here, no runtime bundle to import), enters the sandbox now:
 * this runs while the host still builds the instance's devices. Once per process.
 */
function arm(message: ProcessArmMessage): void {
  if (armed !== undefined) throw new Error('an instance process is armed once');
  const mapped = mapPath(message.memory.path, message.memory.bytes);
  const sandbox = message.sandbox;
  const early = sandbox !== null && !message.files && preloaded.has(message.imagePath);
  const addon = nativeAddonOrNull();
  let sandboxed: 'no' | 'entering' | 'entered' = 'no';
  if (early && addon?.sandboxBegin !== undefined) {
    // The ids and the filter change on the addon's thread while this one decodes the boot
    // message, attaches and stocks the queues; `ready` waits for them (`bootRecord`).
    addon.sandboxBegin(new Int32Array(mapped.view(sandbox.counters)), sandbox.uid, sandbox.gid);
    sandboxed = 'entering';
  } else if (early) {
    enterSandbox(mapped.view(sandbox.counters), sandbox);
    sandboxed = 'entered';
  }
  // While the ids and the filter change on the addon's thread: map the pages the boot writes to.
  for (const range of message.touch ?? []) touchPages(mapped.view(range));
  armed = { path: message.memory.path, bytes: message.memory.bytes, mapped, sandboxed };
}

/** One byte of every page `touchPages` read, summed (kept: reads whose result is unused could be left out). */
let touched = 0;

/**
 * Reads one byte of each page of `sab`: each read maps its page (and the kernel its
 * neighbours) into this process writable, where a first write would fault on each page.
 */
function touchPages(sab: SharedArrayBuffer): void {
  const bytes = new Uint8Array(sab);
  for (let i = 0; i < bytes.length; i += PAGE_BYTES) touched = (touched + bytes[i]) | 0;
}

/** The page size of the mappings. */
const PAGE_BYTES = 4096;

/** Completes a sandbox entry `arm` began (`sandboxFinish`): before `ready`, never after. */
function finishSandbox(): void {
  const addon = nativeAddonOrNull();
  if (addon?.sandboxFinish === undefined) throw new Error('the sandbox needs the native addon');
  addon.sandboxFinish();
}

/** The boot message's memory mapped (or the one `arm` mapped) and its data decoded: what the image is handed. */
function bootRecord(message: ProcessBootMessage): ProcessBoot {
  const memory = message.memory;
  const ahead = armed !== undefined && 'path' in memory && memory.path === armed.path && memory.bytes === armed.bytes ? armed : undefined;
  const mapped = ahead?.mapped ?? ('fd' in memory ? MappedMemory.attach(memory.fd, memory.bytes) : mapPath(memory.path, memory.bytes));
  const data = decodeSharedRefs(message.data, warmMemory === undefined ? [mapped] : [mapped, warmMemory]) as InstanceWorkerData;
  const sandbox = ahead === undefined || ahead.sandboxed === 'no' ? message.sandbox : null;
  const entering = ahead?.sandboxed === 'entering';
  return {
    data,
    port: {
      postMessage(m: InstanceMessage) {
        send(m);
        // The instance handed everything back: nothing is left to do here.
        if (m.type === 'stopped') setImmediate(() => process.exit(0));
      },
    },
    beforeReady: entering ? finishSandbox : sandbox === null ? undefined : () => enterSandbox(data.sandboxSab, sandbox),
  };
}

function boot(message: ProcessBootMessage): Promise<unknown> {
  const record = bootRecord(message);
  const image = preloaded.get(message.imagePath);
  preloaded.clear();
  if (image !== undefined) {
    image.image.boot(record.data, image.prepared, record);
    return Promise.resolve();
  }
  (globalThis as Record<symbol, unknown>)[Symbol.for(PROCESS_BOOT_KEY)] = record;
  return import(pathToFileURL(message.imagePath).href);
}

let bootRehearsed = false;

/** Every buffer `InstanceWorkerData` may hold, for `rehearseBoot`. */
const BOOT_BUFFERS = ['poolSab', 'eth0Sab', 'eth1Sab', 'countersSab', 'stopSab', 'heartbeatSab', 'irqSab', 'sandboxSab', 'loopStatsSab', 'traceSab', 'hostIrqSab', 'stateSab'];

/**
 * Runs what a boot does before the image's start-up once, on a boot message like the
 * host's whose memory is the warm memory again (`/proc/self/fd/5`) and whose buffers lie
 * on `range` of it: parse, open, map, decode. Run first at a boot, this code cost it a few
 * tenths of a millisecond of CPU (compiling `boot` alone ~0.4 ms on the 2-vCPU VM).
 */
function rehearseBoot(range: { readonly offset: number; readonly warmBytes: number }): void {
  if (bootRehearsed) return;
  bootRehearsed = true;
  const ref = { [SHARED_REF]: { memory: 0, offset: range.offset, length: 8 } };
  const data = { ...Object.fromEntries(BOOT_BUFFERS.map((k) => [k, ref])), owner: 2, shard: { index: 0, count: 1 } };
  const memory = { path: `/proc/self/fd/${ProcessFd.WARM_MEMORY}`, bytes: range.warmBytes };
  const line = JSON.stringify({ type: 'boot', imagePath: '', memory, data, sandbox: { uid: -1, gid: -1 } } satisfies ProcessBootMessage);
  bootRecord(JSON.parse(line) as ProcessBootMessage);
}

/**
 * Lowers the heap limit to the MiB the host gave (`ProcessArg.HEAP_MIB`) before any image
 * runs, as `--max-old-space-size` would have: reaching it is V8's fatal "heap out of
 * memory", which the host names `out-of-memory`. The flag itself would cost Node's code
 * cache (see `ProcessIsolate`).
 */
function limitHeap(): void {
  const mib = Number(process.argv[ProcessArg.HEAP_MIB]);
  if (!Number.isInteger(mib) || mib < 1) throw new Error(`the heap limit argument must be a whole number of MiB, got ${process.argv[ProcessArg.HEAP_MIB]}`);
  const addon = nativeAddonOrNull();
  if (addon === null) throw new Error('an instance process needs the native addon');
  addon.heapLimit(mib);
}

/**
 * A full garbage collection (the addon's, as `gc()` without `--expose-gc`: no `gc` global
 * for a function to call). Run while idle, after warming up and after each
 * preload, so that a boot does not meet a scavenge of what they left in the young
 * generation (one came at nearly every boot, 1.5–8 ms on this machine).
 */
function collectGarbage(): void {
  nativeAddonOrNull()?.collectGarbage();
}

/** Says `idle` to the host, with the heap collected first. */
function idle(): void {
  collectGarbage();
  send({ type: 'idle' });
}

async function main(): Promise<void> {
  process.on('uncaughtException', (err: Error) => {
    try {
      send({ type: 'crashed', name: String(err?.name ?? 'Error'), message: String(err?.message ?? err).slice(0, 2000) });
    } finally {
      process.exit(70);
    }
  });
  limitHeap();
  const self = fileURLToPath(import.meta.url);
  if (process.argv[ProcessArg.COLD] !== COLD_ARGUMENT) {
    // Start the libuv thread pool now, while idle, so that every thread exists before the
    // sandbox (a process started for one instance starts it reading its image, before
    // the sandbox too, instead of waiting for it here).
    await readFile(self).catch(() => undefined);
    // Started ahead: warm the ESM loader (its data: and file paths, a missing file
    // included) so that a boot does not pay for it. A process started for one instance
    // has its boot message waiting and goes straight to it.
    const warmUp = 'data:text/javascript,export default 0';
    await import(warmUp);
    await import(pathToFileURL(`${self}.absent.mjs`).href).catch(() => undefined);
    // `performance` is loaded on first use (Node's perf_hooks modules compiled then): a
    // stateful function's boot read it first when it attached its state, paying that on
    // its way to ready; the loop's clock reads it too.
    performance.now();
    idle();
  }
  for (let line = hostLine(); line !== undefined; line = hostLine()) {
    const message = JSON.parse(line) as ProcessHostMessage;
    if (message.type === 'preload') {
      await preload(message);
      idle();
      continue;
    }
    if (message.type === 'arm') {
      arm(message);
      continue;
    }
    await boot(message);
    return;
  }
  throw new Error('the host closed fd 0 before the boot message');
}

void main();
