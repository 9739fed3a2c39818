/**
 * The entry of an instance process (bundled to `.nfvkit/runtime/instance-process-*.mjs`,
 * see `processBootstrapPath`). The host starts `node <this> ` with an empty environment
 * (no secret; only where the native addon is) and these descriptors:
 *
 * | fd | what |
 * |---|---|
 * | 0 | the host's lines (`ProcessHostMessage`): images to preload, then the boot message; then closed |
 * | 2 | stderr (the host keeps its tail for the failure detail) |
 * | 3 | messages to the host, one JSON line each (`InstanceMessage`, or `{ type: 'crashed' }`) |
 * | 4 | the data plane's sealed memfd (pool, rings, counters, wait words), when it existed at spawn; else the boot message names `/proc/<host>/fd/<n>` |
 * | 5 | a warm pool's memfd, where the pipelines it builds ahead keep their counters (processes started ahead only) |
 * | 6 | the host's wake pipe: one byte per ring of the host's interrupt (its loop reads it) |
 *
 * It warms the ESM loader, says `idle`, reads the boot message, maps the memfd, rebuilds the `InstanceWorkerData` from the ranges in the message,
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
import { closeSync, openSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { decodeSharedRefs } from '../memory/shared-refs.ts';
import { MappedMemory } from '../memory/shared-memory.ts';
import { nativeAddonOrNull } from '../native/native-addon.ts';
import { PROCESS_BOOT_KEY, type InstanceMessage, type InstanceWorkerData, type PreloadedImage, type ProcessBoot } from './instance-main.ts';
import { ProcessFd, type ProcessBootMessage, type ProcessCrash, type ProcessHostMessage, type ProcessIdle, type ProcessPreloadMessage } from './instance-process-protocol.ts';

function send(message: InstanceMessage | ProcessCrash | ProcessIdle): void {
  writeSync(ProcessFd.MESSAGES, `${JSON.stringify(message)}\n`);
}

/** Reads fd 0 up to the first newline. */
/** The host's lines on fd 0, one at a time. */
async function* hostLines(): AsyncGenerator<string> {
  let text = '';
  for await (const chunk of process.stdin) {
    text += String(chunk);
    for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n')) {
      yield text.slice(0, end);
      text = text.slice(end + 1);
    }
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
    preloaded.set(imagePath, { image, prepared: true });
  } else {
    image.rehearse();
    preloaded.set(imagePath, { image, prepared: false });
  }
}

function boot(message: ProcessBootMessage): Promise<unknown> {
  const memoryFd = 'fd' in message.memory ? message.memory.fd : openSync(message.memory.path, 'r+');
  const mapped = MappedMemory.attach(memoryFd, message.memory.bytes);
  if (memoryFd !== ProcessFd.MEMORY) closeSync(memoryFd);
  const data = decodeSharedRefs(message.data, warmMemory === undefined ? [mapped] : [mapped, warmMemory]) as InstanceWorkerData;
  const sandbox = message.sandbox;
  const record: ProcessBoot = {
    data,
    port: {
      postMessage(m: InstanceMessage) {
        send(m);
        // The instance handed everything back: nothing is left to do here.
        if (m.type === 'stopped') setImmediate(() => process.exit(0));
      },
    },
    beforeReady:
      sandbox === null
        ? undefined
        : () => {
            const addon = nativeAddonOrNull();
            if (addon === null || data.sandboxSab === undefined) throw new Error('the sandbox needs the native addon and its counter memory');
            addon.sandboxEnter(new Int32Array(data.sandboxSab), sandbox.uid, sandbox.gid);
          },
  };
  const image = preloaded.get(message.imagePath);
  preloaded.clear();
  if (image !== undefined) {
    image.image.boot(data, image.prepared, record);
    return Promise.resolve();
  }
  (globalThis as Record<symbol, unknown>)[Symbol.for(PROCESS_BOOT_KEY)] = record;
  return import(pathToFileURL(message.imagePath).href);
}

async function main(): Promise<void> {
  process.on('uncaughtException', (err: Error) => {
    try {
      send({ type: 'crashed', name: String(err?.name ?? 'Error'), message: String(err?.message ?? err).slice(0, 2000) });
    } finally {
      process.exit(70);
    }
  });
  // Warm the ESM loader (its data: and file paths, a missing file included), the file
  // reading path and the addon now, so that a boot does not pay for them.
  const self = fileURLToPath(import.meta.url);
  const warmUp = 'data:text/javascript,export default 0';
  await import(warmUp);
  await readFile(self).catch(() => undefined);
  await import(pathToFileURL(`${self}.absent.mjs`).href).catch(() => undefined);
  nativeAddonOrNull();
  send({ type: 'idle' });
  for await (const line of hostLines()) {
    const message = JSON.parse(line) as ProcessHostMessage;
    if (message.type === 'preload') {
      await preload(message);
      send({ type: 'idle' });
      continue;
    }
    process.stdin.destroy();
    await boot(message);
    return;
  }
  throw new Error('the host closed fd 0 before the boot message');
}

void main();
