/**
 * ns/packet of each function of a chain alone on one thread, measured in a fresh Node
 * process: in the bench's own thread the functions' shared code (batch, parser, conntrack)
 * has run every other case of the suite first, and its type feedback is no longer that of
 * one instance running one image (an instance is its own isolate). The figure is the
 * chain's ideal cost, against which the chain suite gives its efficiency.
 *
 * Run as a script it reads a `PerFunctionRequest` (JSON) on stdin and writes the ns/packet
 * array (JSON) on stdout.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { registerBuiltinFunctions } from '../../functions/index.ts';
import { compilePipeline } from '../../src/pipeline/compiler.ts';
import { FunctionRegistry } from '../../src/pipeline/function-registry.ts';
import { importPipelineModule } from '../../src/pipeline/load-pipeline.ts';
import { PacketBatch } from '../../src/pipeline/packet-batch.ts';

/** What the measuring process is given: the chain's functions in order and the frames to send. */
export interface PerFunctionRequest {
  /** Built-in function name and config of each function, in chain order. */
  readonly parts: ReadonlyArray<{ readonly function: string; readonly config: unknown }>;
  /** The frames (base64), sent round robin. */
  readonly frames: readonly string[];
}

const BATCH = 256;
const STRIDE = 2176;
const HEADROOM = 128;
const WARM_BATCHES = 200;
/** Measured batches come in chunks; each function's figure is its median chunk (a descheduled moment spoils one chunk, not the figure). */
const CHUNKS = 15;
const CHUNK_BATCHES = 200;

/**
 * ns/packet of each function over batches of 256 frames (a batch through the first
 * function, its output through the next, …), after 200 batches of warm-up, in this thread:
 * the median over 15 chunks of 200 batches.
 */
export async function measurePerFunctionNs(request: PerFunctionRequest): Promise<number[]> {
  const registry = registerBuiltinFunctions(new FunctionRegistry());
  const modules = await Promise.all(request.parts.map((p) => importPipelineModule(compilePipeline(registry.get(p.function), p.config))));
  const pipelines = modules.map((m) => m.createPipeline({ counters: new Float64Array(m.COUNTERS.length) }));
  const frames = request.frames.map((f) => new Uint8Array(Buffer.from(f, 'base64')));
  const mem = new Uint8Array(BATCH * STRIDE);
  const batch = new PacketBatch(new DataView(mem.buffer));
  const chunks = pipelines.map(() => [] as number[]);
  const spent = pipelines.map(() => 0);
  for (let rep = 0; rep < WARM_BATCHES + CHUNKS * CHUNK_BATCHES; rep++) {
    batch.clear();
    for (let i = 0; i < BATCH; i++) {
      const f = frames[(rep * BATCH + i) % frames.length];
      mem.set(f, i * STRIDE + HEADROOM);
      batch.push(i, i * STRIDE + HEADROOM, f.length, 0);
    }
    for (let k = 0; k < pipelines.length; k++) {
      const t0 = performance.now();
      pipelines[k].processBatch(batch, t0);
      spent[k] += performance.now() - t0;
      batch.sides.fill(0);
    }
    const done = rep + 1 - WARM_BATCHES;
    if (done === 0 || (done > 0 && done % CHUNK_BATCHES === 0)) {
      for (let k = 0; k < pipelines.length; k++) {
        if (done > 0) chunks[k].push((spent[k] * 1e6) / (CHUNK_BATCHES * BATCH));
        spent[k] = 0;
      }
    }
  }
  return chunks.map((c) => c.sort((a, b) => a - b)[c.length >> 1]);
}

/** `measurePerFunctionNs` in a fresh Node process (this file as its script, this process's loader flags). */
export function perFunctionNsInFreshProcess(request: PerFunctionRequest): number[] {
  const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], { input: JSON.stringify(request), encoding: 'utf8', timeout: 120_000 });
  if (child.status !== 0) throw new Error(`per-function cost process failed (${child.status ?? child.signal}): ${child.stderr.slice(-2000)}`);
  return JSON.parse(child.stdout) as number[];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const request = JSON.parse(readFileSync(0, 'utf8')) as PerFunctionRequest;
  process.stdout.write(JSON.stringify(await measurePerFunctionNs(request)));
}
