import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { InvalidArgumentError } from '../errors/catalog.ts';
import { InstanceHost, instanceResourceLimits, type InstanceHostOptions } from './instance-host.ts';
import { WARM_BOOT_KEY, type InstanceWorkerData } from './instance-main.ts';

/**
 * The bootstrap of a warm isolate: plain CommonJS (no tsx in the isolate). It touches
 * `performance` (loaded lazily: ~1 ms on first use, which the instance loop's first clock
 * read would pay), runs the ESM loader once on a data: URL and once on the file path (an
 * async read and a missing file: together their first use costs ~2.5 ms, more than a small
 * image), then imports every preloaded image with
 * `globalThis[Symbol.for(WARM_BOOT_KEY)]` set to a registrar, so that the image hands over
 * its `PreloadedImage` instead of booting; with `workerData.prepare` it has each build its
 * pipeline ahead (`prepare()`, whose counter memory goes to the host in the `loaded`
 * message), else only rehearse its start-up. The host answers with a `ping` (so that the
 * boot request is not the first message the isolate receives, which is slower), the isolate
 * says `warm` and waits for `{ imagePath, workerData, prepared }`: a preloaded image boots at
 * once; any other is imported with the data left under the same global, which the image's
 * `startInstanceIfBooted` picks up. A failure surfaces as the worker's `error`. An image
 * built before `PreloadedImage` hands over a bare boot function, which still works.
 */
export const WARM_BOOTSTRAP =
  `const { parentPort, workerData } = require('node:worker_threads');\n` +
  `const { pathToFileURL } = require('node:url');\n` +
  `const { readFile } = require('node:fs/promises');\n` +
  `const key = Symbol.for(${JSON.stringify(WARM_BOOT_KEY)});\n` +
  `const images = new Map();\n` +
  `const prepared = {};\n` +
  `(async () => {\n` +
  `  performance.timeOrigin + performance.now();\n` +
  `  await import('data:text/javascript,export default 0');\n` +
  `  await readFile(workerData.probe).catch(() => undefined);\n` +
  `  await import(pathToFileURL(workerData.probe + '.absent.mjs').href).catch(() => undefined);\n` +
  `  for (const path of workerData.preload) {\n` +
  `    let image;\n` +
  `    globalThis[key] = (x) => { image = typeof x === 'function' ? { boot: x } : x; };\n` +
  `    await import(pathToFileURL(path).href);\n` +
  `    delete globalThis[key];\n` +
  `    if (image === undefined) throw new Error(path + ' is not an nfvkit image');\n` +
  `    images.set(path, image);\n` +
  `    if (workerData.prepare && image.prepare) prepared[path] = image.prepare();\n` +
  `    else if (image.rehearse) image.rehearse();\n` +
  `  }\n` +
  `  const onMessage = (m) => {\n` +
  `    if (m.type === 'ping') {\n` +
  `      parentPort.once('message', onMessage);\n` +
  `      return parentPort.postMessage({ type: 'warm' });\n` +
  `    }\n` +
  `    const image = images.get(m.imagePath);\n` +
  `    images.clear();\n` +
  `    if (image !== undefined) return image.boot(m.workerData, m.prepared === true);\n` +
  `    globalThis[key] = m.workerData;\n` +
  `    import(pathToFileURL(m.imagePath).href);\n` +
  `  };\n` +
  `  parentPort.once('message', onMessage);\n` +
  `  parentPort.postMessage({ type: 'loaded', prepared });\n` +
  `})();\n`;

/** A file the bootstrap reads once to warm the file-loading path (this module's own source). */
const PROBE_FILE = fileURLToPath(import.meta.url);

/** Options of `WarmPool.create`. */
export interface WarmPoolOptions {
  /** Isolates kept booted and idle (default 2). */
  readonly size?: number;
  /**
   * Heap limit of every isolate of the pool, MiB: the pool's memory class. Resource limits
   * are fixed when an isolate is created, so an instance started warm runs with this limit,
   * not its manifest's; `acquire` refuses images that ask for more.
   */
  readonly memoryMiB: number;
  /**
   * Absolute paths of images every idle isolate imports ahead of time (default none): an
   * acquire of one of them only runs the instance's start-up, without loading the image.
   * Costs each idle isolate the memory of those images.
   */
  readonly preload?: readonly string[];
  /**
   * Also build the pipelines of the preloaded images ahead, in every idle isolate (default
   * true): an acquire then only wires the shared memory (well under a millisecond of work
   * in the isolate, whatever the function). Costs each idle isolate the pipelines' tables
   * (a conntrack table of 65536 entries is ~6 MiB). Not used when `acquire` passes a
   * `countersSab` (the pipeline is then built at boot, on it); a `controlSab` is handed to
   * the prepared pipeline (`setControl`).
   */
  readonly prepare?: boolean;
  /**
   * Learn preloads (default 0: off): an image acquired without being preloaded is added to
   * the preload list of the isolates started from then on, so that the next acquires of it
   * are preloaded (and prepared) boots. At most this many learned images are kept, the
   * most recently added; the `preload` list is kept whole. Each costs every idle isolate
   * the image and, when prepared, its pipeline's tables.
   */
  readonly learn?: number;
}

/** An idle isolate and the counter memory of the pipelines it prepared, by image path. */
interface IdleIsolate {
  readonly worker: Worker;
  readonly prepared: ReadonlyMap<string, SharedArrayBuffer>;
}

/**
 * Pre-booted worker isolates for one memory class: `acquire` loads an image into an idle
 * isolate instead of creating one, which takes the isolate and event-loop start-up off the
 * boot path. Each isolate serves one instance (it is not reused after the instance ends);
 * the pool starts a replacement in the background once each acquired instance is ready (or
 * failed), so that starting it does not slow that boot down. When no isolate is
 * idle, `acquire` starts one cold (counted in `misses`). Images listed in `preload` are
 * already loaded in every idle isolate, their pipelines built and their start-up code run
 * once on scratch memory, so acquiring one skips all of that (see `WarmPoolOptions.prepare`).
 *
 * @example
 * ```ts
 * const warm = await WarmPool.create({ size: 4, memoryMiB: 64, preload: [imagePath] });
 * const host = await warm.acquire({ imagePath, manifest, pool, owner: 10 });
 * // … host.eth0.deliverRx(…) …
 * await host.stop();
 * await warm.close();
 * ```
 */
export class WarmPool {
  readonly size: number;
  readonly memoryMiB: number;
  /** Acquisitions that found no idle isolate and started one cold. */
  misses = 0;
  /**
   * Acquisitions handed a pipeline prepared ahead (a preloaded image; control memory goes to
   * it through `setControl`, and a pipeline without `setControl` is built at boot instead).
   */
  preparedBoots = 0;
  /** Isolates that failed to start (the last error in `lastStartError`). */
  startFailures = 0;
  lastStartError: string | undefined;
  private readonly idle: IdleIsolate[] = [];
  private starting = 0;
  private closed = false;
  private readonly waiters: Array<() => void> = [];

  private readonly preload: readonly string[];
  private readonly prepare: boolean;
  private readonly learn: number;
  /** Images learned from acquires (see `WarmPoolOptions.learn`), oldest first. */
  private readonly learned: string[] = [];

  private constructor(size: number, memoryMiB: number, preload: readonly string[], prepare: boolean, learn: number) {
    this.size = size;
    this.memoryMiB = memoryMiB;
    this.preload = preload;
    this.prepare = prepare;
    this.learn = learn;
  }

  /** Creates the pool and resolves once `size` isolates are idle. */
  static async create(opts: WarmPoolOptions): Promise<WarmPool> {
    const size = opts.size ?? 2;
    if (!Number.isInteger(size) || size < 0 || size > 256) throw new InvalidArgumentError(`warm pool size must be 0..256, got ${size}`);
    if (!Number.isInteger(opts.memoryMiB) || opts.memoryMiB < 1) throw new InvalidArgumentError(`warm pool memory must be a whole number of MiB, got ${opts.memoryMiB}`);
    const learn = opts.learn ?? 0;
    if (!Number.isInteger(learn) || learn < 0) throw new InvalidArgumentError(`warm pool learn must be a whole number of images, got ${learn}`);
    const pool = new WarmPool(size, opts.memoryMiB, (opts.preload ?? []).map((p) => resolve(p)), opts.prepare !== false, learn);
    pool.refill();
    if (!(await pool.full())) {
      await pool.close();
      throw new InvalidArgumentError(`warm pool isolates failed to start: ${pool.lastStartError}`);
    }
    return pool;
  }

  /** Isolates idle now. */
  get idleCount(): number {
    return this.idle.length;
  }

  /** Images the isolates started from now on preload: `preload`, then the learned ones. */
  get preloads(): readonly string[] {
    return [...this.preload, ...this.learned];
  }

  /**
   * Starts isolates up to `size` if none is starting, waits for those being started and
   * says whether `size` are idle. False when one failed to start (see `startFailures`, e.g.
   * a preloaded image that cannot be loaded any more).
   */
  async full(): Promise<boolean> {
    if (this.starting === 0) this.refill();
    while (!this.closed && this.starting > 0) await new Promise<void>((resolve) => this.waiters.push(resolve));
    return this.idle.length >= this.size;
  }

  /**
   * Boots an image instance in an idle isolate (see `InstanceHost.boot`; resolves when it is
   * running or failed). The host side (devices, shared words) is set up synchronously
   * within this call. Throws `InvalidArgumentError` if the image needs more memory than the
   * pool's class.
   */
  async acquire(opts: Omit<InstanceHostOptions, 'spawn' | 'warm'>): Promise<InstanceHost> {
    if (opts.manifest.memoryMiB > this.memoryMiB) {
      throw new InvalidArgumentError(`image needs ${opts.manifest.memoryMiB} MiB; this warm pool's isolates have ${this.memoryMiB} MiB`);
    }
    const isolate = this.idle.shift();
    if (isolate === undefined) this.misses++;
    const imagePath = resolve(opts.imagePath);
    this.learnImage(imagePath);
    const counters = opts.countersSab === undefined ? isolate?.prepared.get(imagePath) : undefined;
    const prepared = counters !== undefined && counters.byteLength >= opts.manifest.counters.length * 8;
    let posted = false;
    const host = InstanceHost.boot({
      ...opts,
      ...(prepared ? { countersSab: counters } : {}),
      warm: isolate !== undefined,
      spawn: (_path: string, workerData: InstanceWorkerData) => {
        const w = isolate?.worker ?? this.spawn(false);
        w.ref();
        w.postMessage({ imagePath, workerData, prepared });
        posted = true;
        return w;
      },
    });
    if (posted && prepared) this.preparedBoots++;
    if (!posted && isolate !== undefined) this.idle.unshift(isolate); // refused before spawning (bad options)
    // Replace the isolate once this boot is over, after the caller has resumed: starting one
    // costs the host thread ~0.3 ms and a core for ~25 ms, which would otherwise land on it.
    const refill = (): void => void setImmediate(() => this.refill());
    void host.then(refill, refill);
    return host;
  }

  /**
   * Learns `imagePaths` ahead of any acquire (a controller that just built a chain's images
   * calls this) and replaces the idle isolates started without them, so the next acquires
   * of those images are prepared boots. Needs `learn` ≥ the number of images; resolves when
   * the pool is full again. Images above the pool's memory class are skipped.
   */
  async learnImages(images: ReadonlyArray<{ readonly imagePath: string; readonly memoryMiB: number }>): Promise<void> {
    const before = this.preloads.join('\n');
    for (const image of images) if (image.memoryMiB <= this.memoryMiB) this.learnImage(resolve(image.imagePath));
    if (this.preloads.join('\n') === before) return;
    await Promise.all(this.idle.splice(0).map((i) => i.worker.terminate()));
    await this.full();
  }

  /** Terminates the idle isolates; instances already acquired are not affected. */
  async close(): Promise<void> {
    this.closed = true;
    this.wake();
    await Promise.all(this.idle.splice(0).map((i) => i.worker.terminate()));
  }

  /**
   * Stops preloading `imagePaths` in the isolates started from now on (images removed from
   * the store: an isolate preloading a missing file fails to start). Idle isolates that
   * preloaded them keep them in memory and boot any image as before.
   */
  forget(imagePaths: Iterable<string>): void {
    for (const p of imagePaths) {
      const i = this.learned.indexOf(resolve(p));
      if (i >= 0) this.learned.splice(i, 1);
    }
  }

  /** Drops learned images whose file is gone (an isolate preloading one would fail to start). */
  private forgetMissing(): void {
    for (let i = this.learned.length - 1; i >= 0; i--) if (!existsSync(this.learned[i])) this.learned.splice(i, 1);
  }

  private learnImage(imagePath: string): void {
    if (this.learn === 0 || this.preload.includes(imagePath) || this.learned.includes(imagePath)) return;
    this.learned.push(imagePath);
    if (this.learned.length > this.learn) this.learned.shift();
  }

  /** A new isolate; one started for a miss preloads nothing (it boots one image right away). */
  private spawn(idle = true): Worker {
    return new Worker(WARM_BOOTSTRAP, {
      eval: true,
      execArgv: [],
      workerData: { preload: idle ? this.preloads : [], prepare: idle && this.prepare, probe: PROBE_FILE },
      resourceLimits: instanceResourceLimits(this.memoryMiB),
    });
  }

  /**
   * Starts missing isolates one at a time: an isolate's start (and the preloading and
   * preparing of the learned images) takes a core for tens of ms, and several at once
   * right after a scale-out starve the instances that carry the traffic.
   */
  private refill(): void {
    while (!this.closed && this.starting === 0 && this.idle.length < this.size) {
      this.starting++;
      const w = this.spawn();
      const dead = (err: Error): void => {
        this.startFailures++;
        this.lastStartError = `${err.name}: ${err.message}`;
        this.forgetMissing();
        this.starting--;
        this.wake();
      };
      let prepared: ReadonlyMap<string, SharedArrayBuffer> = new Map();
      const startup = (m: { type?: string; prepared?: Record<string, SharedArrayBuffer> }): void => {
        if (m.type === 'loaded') {
          prepared = new Map(Object.entries(m.prepared ?? {}));
          w.postMessage({ type: 'ping', sab: new SharedArrayBuffer(8) });
          return;
        }
        w.off('message', startup);
        w.off('error', dead);
        this.starting--;
        if (this.closed) void w.terminate();
        else {
          w.unref(); // an idle isolate does not keep the process alive; acquire refs it
          this.idle.push({ worker: w, prepared });
          this.refill();
        }
        this.wake();
      };
      w.once('error', dead);
      w.on('message', startup);
    }
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}
