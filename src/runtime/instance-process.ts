/**
 * The entry of an instance process (bundled to `.nfvkit/runtime/instance-process-*.mjs`,
 * see `processBootstrapPath`). The host starts `node <this> ` with an empty environment
 * (no secret; only where the native addon is) and these descriptors:
 *
 * | fd | what |
 * |---|---|
 * | 0 | the boot message, one JSON line (`ProcessBootMessage`), then closed |
 * | 2 | stderr (the host keeps its tail for the failure detail) |
 * | 3 | messages to the host, one JSON line each (`InstanceMessage`, or `{ type: 'crashed' }`) |
 * | 4 | the data plane's sealed memfd (pool, rings, counters, wait words), when it existed at spawn; else the boot message names `/proc/<host>/fd/<n>` |
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
import { pathToFileURL } from 'node:url';
import { decodeSharedRefs } from '../memory/shared-refs.ts';
import { MappedMemory } from '../memory/shared-memory.ts';
import { nativeAddonOrNull } from '../native/native-addon.ts';
import { PROCESS_BOOT_KEY, type InstanceMessage, type InstanceWorkerData, type ProcessBoot } from './instance-main.ts';
import { ProcessFd, type ProcessBootMessage, type ProcessCrash, type ProcessIdle } from './instance-process-protocol.ts';

function send(message: InstanceMessage | ProcessCrash | ProcessIdle): void {
  writeSync(ProcessFd.MESSAGES, `${JSON.stringify(message)}\n`);
}

/** Reads fd 0 up to the first newline. */
async function readBootLine(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) {
    text += String(chunk);
    const end = text.indexOf('\n');
    if (end >= 0) {
      process.stdin.destroy();
      return text.slice(0, end);
    }
  }
  throw new Error('the host closed fd 0 before the boot message');
}

async function main(): Promise<void> {
  process.on('uncaughtException', (err: Error) => {
    try {
      send({ type: 'crashed', name: String(err?.name ?? 'Error'), message: String(err?.message ?? err).slice(0, 2000) });
    } finally {
      process.exit(70);
    }
  });
  // Warm the ESM loader and the addon now, so that a boot does not pay for them.
  const warmUp = 'data:text/javascript,export default 0';
  await import(warmUp);
  nativeAddonOrNull();
  send({ type: 'idle' });
  const boot = JSON.parse(await readBootLine()) as ProcessBootMessage;
  const memoryFd = 'fd' in boot.memory ? boot.memory.fd : openSync(boot.memory.path, 'r+');
  const mapped = MappedMemory.attach(memoryFd, boot.memory.bytes);
  if (memoryFd !== ProcessFd.MEMORY) closeSync(memoryFd);
  const data = decodeSharedRefs(boot.data, mapped) as InstanceWorkerData;
  const sandbox = boot.sandbox;
  const record: ProcessBoot = {
    data,
    port: {
      postMessage(message: InstanceMessage) {
        send(message);
        // The instance handed everything back: nothing is left to do here.
        if (message.type === 'stopped') setImmediate(() => process.exit(0));
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
  (globalThis as Record<symbol, unknown>)[Symbol.for(PROCESS_BOOT_KEY)] = record;
  await import(pathToFileURL(boot.imagePath).href);
}

void main();
