/**
 * A service chain run by one host thread: one worker instance per function image, each
 * with `eth0` (inside) and `eth1` (outside) virtio-net devices over ONE shared packet pool.
 * Between two hops the host moves descriptors only: what hop i transmits on `eth1` is
 * delivered to hop i+1's `eth0` receiveq, and what hop i+1 transmits on `eth0` goes to hop
 * i's `eth1` receiveq. The chain's two ends are `ChainPort`s.
 *
 * ```
 * inside port ─► [eth0 hop0 eth1] ─► [eth0 hop1 eth1] ─► … ─► outside port
 *             ◄─                  ◄─                  ◄─
 * ```
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { InstanceFailedError, InvalidArgumentError } from '../errors/catalog.ts';
import type { BuildImageResult } from '../image/image-builder.ts';
import type { ImageManifest } from '../image/image-manifest.ts';
import { BuiltinCounter } from '../pipeline/compiled-pipeline.ts';
import { PacketPool, type HeldBuffer } from '../pool/packet-pool.ts';
import type { InstanceMessage, InstanceWorkerData } from '../runtime/instance-main.ts';
import { VirtioNetDevice, type VirtioNetDeviceEnd } from '../virtio/virtio-net-device.ts';
import { NULL_PORT, type ChainPort } from './chain-port.ts';
import { LinkFifo } from './link-fifo.ts';

/** Pool owner id of the chain host (every device end); instances are 2, 3, … */
export const CHAIN_HOST_OWNER = 1;

/** Options of `ChainHost.boot`. */
export interface ChainHostOptions {
  /** Entries per virtqueue (default 256). */
  readonly queueSize?: number;
  /** Pool buffers (default: enough for every posted receive buffer plus 8192). */
  readonly bufferCount?: number;
  /** Frames a link may hold while the next receiveq is full (default 2 × queueSize). */
  readonly fifoSize?: number;
  /** Time to wait for an instance's `ready`/`closing`/`stopped`, ms (default 10 000). */
  readonly messageTimeoutMs?: number;
  /** Empty host passes before `run` naps (default 16; 0 naps after every empty pass). */
  readonly idleSpins?: number;
  /** Length of such a nap, ms (default 0.05; lets instance threads run on a busy machine). */
  readonly idleNapMs?: number;
}

/** One booted function of the chain. */
export interface ChainHop {
  readonly name: string;
  readonly manifest: ImageManifest;
  /** The pipeline's counters, live (shared memory written by the instance). */
  readonly counters: Float64Array;
  readonly worker: Worker;
}

/** Frames that entered and left the chain, per end. */
export interface ChainTraffic {
  enteredInside: number;
  enteredOutside: number;
  leftInside: number;
  leftOutside: number;
}

/** What `shutdown` found. */
export interface ChainShutdownReport {
  /** Frames each instance took from its receiveqs. */
  readonly received: readonly number[];
  /** Batches each instance processed (`received / batches` = mean batch size). */
  readonly batches: readonly number[];
  /** Buffers still held after everything was handed back (must be empty). */
  readonly leaks: readonly HeldBuffer[];
}

/** Host-side drop reasons (in addition to each pipeline's drop counters). */
export interface ChainHostDrops {
  /** `deliverRx` refused a frame that starts < 12 bytes into its buffer. */
  noHeadroom: number;
  /** A transmitq descriptor that did not designate a buffer handed to the host. */
  badDescriptor: number;
  /** Frames held in link FIFOs at shutdown (freed, never delivered). */
  heldAtShutdown: number;
}

const BATCH = 256;

/**
 * Boots and runs a chain of sealed images on one host thread.
 *
 * @example
 * ```ts
 * const chain = await ChainHost.boot([await buildImage(firewall, fwCfg), await buildImage(nat, natCfg)]);
 * const gen = new GeneratorPort(templates, { total: 1e6 });
 * const sink = new SinkPort();
 * await chain.run(gen, sink, () => sink.frames + chain.dropped() >= gen.sent, 10_000);
 * const { leaks } = await chain.shutdown();
 * ```
 */
export class ChainHost {
  /** The host's handle on the shared pool (owner `CHAIN_HOST_OWNER`). */
  readonly pool: PacketPool;
  readonly hops: readonly ChainHop[];
  readonly traffic: ChainTraffic = { enteredInside: 0, enteredOutside: 0, leftInside: 0, leftOutside: 0 };
  /** Device ends, `ends[2i]` = hop i's eth0, `ends[2i + 1]` = hop i's eth1. */
  private readonly ends: VirtioNetDeviceEnd[];
  /** Frames waiting for room in `ends[e]`'s receiveq. */
  private readonly fifos: LinkFifo[];
  private readonly stops: Int32Array[];
  private readonly inbox: InstanceMessage[][];
  private readonly scratch = new Uint32Array(BATCH);
  private readonly timeoutMs: number;
  private readonly nap = new Int32Array(new SharedArrayBuffer(4));
  private readonly idleSpins: number;
  private readonly idleNapMs: number;
  /** Host passes (`pump` calls), passes of `run` that moved nothing, and naps `run` took (for profiles). */
  passes = 0;
  idlePasses = 0;
  naps = 0;
  private failure: Error | null = null;
  private heldAtShutdown = 0;
  private stopped = false;

  private constructor(pool: PacketPool, hops: ChainHop[], ends: VirtioNetDeviceEnd[], fifoSize: number, stops: Int32Array[], inbox: InstanceMessage[][], timeoutMs: number, idleSpins: number, idleNapMs: number) {
    this.pool = pool;
    this.hops = hops;
    this.ends = ends;
    this.fifos = ends.map(() => new LinkFifo(fifoSize));
    this.stops = stops;
    this.inbox = inbox;
    this.timeoutMs = timeoutMs;
    this.idleSpins = idleSpins;
    this.idleNapMs = idleNapMs;
    for (const hop of hops) hop.worker.on('error', (err: Error) => (this.failure ??= err));
  }

  /** Boots one instance per image (in chain order, inside first) and waits until all are ready. */
  static async boot(images: readonly BuildImageResult[], options: ChainHostOptions = {}): Promise<ChainHost> {
    if (images.length === 0) throw new InvalidArgumentError('a chain needs at least one image');
    const queueSize = options.queueSize ?? 256;
    const fifoSize = options.fifoSize ?? 2 * queueSize;
    if (!Number.isInteger(fifoSize) || fifoSize < 1) throw new InvalidArgumentError(`fifoSize ${fifoSize} must be a positive integer`);
    const bufferCount = options.bufferCount ?? 4 * images.length * queueSize + 8192;
    const pool = PacketPool.create({ bufferCount, owner: CHAIN_HOST_OWNER });
    const hops: ChainHop[] = [];
    const ends: VirtioNetDeviceEnd[] = [];
    const stops: Int32Array[] = [];
    const inbox: InstanceMessage[][] = [];
    const timeoutMs = options.messageTimeoutMs ?? 10_000;
    for (let i = 0; i < images.length; i++) {
      const { manifest, imagePath } = images[i];
      const owner = CHAIN_HOST_OWNER + 1 + i;
      const eth0 = VirtioNetDevice.create({ queueSize, driverOwner: owner, deviceOwner: CHAIN_HOST_OWNER });
      const eth1 = VirtioNetDevice.create({ queueSize, driverOwner: owner, deviceOwner: CHAIN_HOST_OWNER });
      const countersSab = new SharedArrayBuffer(Math.max(8, manifest.counters.length * 8));
      const stopSab = new SharedArrayBuffer(4);
      const workerData: InstanceWorkerData = { poolSab: pool.sab, eth0Sab: eth0.sab, eth1Sab: eth1.sab, countersSab, stopSab, owner };
      const worker = new Worker(imagePath, { workerData, execArgv: [], resourceLimits: { maxOldGenerationSizeMb: manifest.memoryMiB } });
      const messages: InstanceMessage[] = [];
      worker.on('message', (m: InstanceMessage) => messages.push(m));
      hops.push({ name: manifest.name, manifest, counters: new Float64Array(countersSab), worker });
      ends.push(eth0.deviceEnd(pool), eth1.deviceEnd(pool));
      stops.push(new Int32Array(stopSab));
      inbox.push(messages);
    }
    const host = new ChainHost(pool, hops, ends, fifoSize, stops, inbox, timeoutMs, options.idleSpins ?? 16, options.idleNapMs ?? 0.05);
    try {
      await Promise.all(hops.map((_, i) => host.waitFor(i, 'ready')));
    } catch (err) {
      for (const hop of hops) await hop.worker.terminate();
      throw err;
    }
    return host;
  }

  /** Pipeline drops of every hop plus host-side drops. */
  dropped(): number {
    let n = 0;
    for (const hop of this.hops) n += hop.counters[BuiltinCounter.DROPPED_PACKETS];
    // Summed in place (no object): `run`'s done() callbacks call this often.
    for (const end of this.ends) n += end.rxCounters.dropsNoHeadroom + end.rxCounters.dropsRingFull + end.txCounters.dropsBadDescriptor;
    return n + this.heldAtShutdown;
  }

  /** Drops counted by the host, by reason. */
  hostDrops(): ChainHostDrops {
    let noHeadroom = 0;
    let badDescriptor = 0;
    for (const end of this.ends) {
      noHeadroom += end.rxCounters.dropsNoHeadroom + end.rxCounters.dropsRingFull;
      badDescriptor += end.txCounters.dropsBadDescriptor;
    }
    return { noHeadroom, badDescriptor, heldAtShutdown: this.heldAtShutdown };
  }

  /** Every pipeline drop counter that is non-zero, as `function:reason` → count. */
  dropsByReason(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const hop of this.hops) {
      hop.manifest.counters.forEach((c, slot) => {
        if (c.drop && hop.counters[slot] > 0) out[`${hop.name}:${c.name}`] = hop.counters[slot];
      });
    }
    const host = this.hostDrops();
    for (const [k, v] of Object.entries(host)) if (v > 0) out[`host:${k}`] = v;
    return out;
  }

  /**
   * One pass of the host loop: take new frames from both ports (as much as the entry
   * links can hold), forward every hop's transmitted frames to the next hop's receive
   * FIFO or to a port, then flush every FIFO into its receiveq as far as `rxRoom()` allows.
   * A full FIFO leaves frames in the transmitq behind it (back-pressure, no drop).
   * Returns how many frames moved.
   */
  pump(inside: ChainPort, outside: ChainPort): number {
    const pool = this.pool;
    const ends = this.ends;
    const fifos = this.fifos;
    const last = ends.length - 1;
    const ids = this.scratch;
    let moved = 0;
    this.passes++;
    let room = fifos[0].free();
    if (room > 0) {
      const n = inside.fill(pool, ids, room < BATCH ? room : BATCH);
      fifos[0].push(ids, n);
      this.traffic.enteredInside += n;
      moved += n;
    }
    room = fifos[last].free();
    if (room > 0) {
      const n = outside.fill(pool, ids, room < BATCH ? room : BATCH);
      fifos[last].push(ids, n);
      this.traffic.enteredOutside += n;
      moved += n;
    }
    for (let e = 0; e <= last; e++) {
      // eth1 (odd) feeds the next hop's eth0, eth0 (even) the previous hop's eth1.
      const peer = (e & 1) === 1 ? e + 1 : e - 1;
      if (peer < 0 || peer > last) {
        const n = ends[e].pollTx(ids, BATCH);
        if (n === 0) continue;
        if (peer < 0) {
          this.traffic.leftInside += n;
          inside.take(pool, ids, n);
        } else {
          this.traffic.leftOutside += n;
          outside.take(pool, ids, n);
        }
        moved += n;
        continue;
      }
      room = fifos[peer].free();
      if (room === 0) continue;
      const n = ends[e].pollTx(ids, room < BATCH ? room : BATCH);
      fifos[peer].push(ids, n);
      moved += n;
    }
    for (let e = 0; e <= last; e++) {
      const fifo = fifos[e];
      if (fifo.count === 0) continue;
      room = ends[e].rxRoom();
      if (room === 0) continue;
      const k = room < fifo.count ? room : fifo.count;
      ends[e].deliverRx(fifo.ids, k);
      fifo.shift(k);
    }
    return moved;
  }

  /**
   * Pumps until `done()` is true or `timeoutMs` passes; yields to the event loop every
   * ~20 ms (so worker errors are seen). Returns whether `done()` became true. Throws the
   * error of an instance that failed.
   */
  async run(inside: ChainPort, outside: ChainPort = NULL_PORT, done: () => boolean = () => false, timeoutMs = 10_000): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const sliceEnd = performance.now() + 20;
      let passes = 0;
      let idle = 0;
      for (;;) {
        if (this.pump(inside, outside) > 0) idle = 0;
        else {
          this.idlePasses++;
          idle++;
        }
        if (idle > 0 && idle >= this.idleSpins) {
          this.naps++;
          // Nothing moved for a while: give the core to the instances (2 cores, n + 1 threads).
          Atomics.wait(this.nap, 0, 0, this.idleNapMs);
          idle = 0;
        }
        if ((++passes & 63) === 0 && performance.now() > sliceEnd) break;
        if ((passes & 7) === 0 && done()) return true;
      }
      if (done()) return true;
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.failure !== null) throw this.failure;
      if (performance.now() > deadline) return done();
    }
  }

  /**
   * Stops every instance (stop word → `closing` → `returnRx()` on its devices →
   * `stopped`), frees what the host still holds (FIFOs, transmitqs) and terminates the
   * workers. Returns the instances' totals and the pool's leak check.
   */
  async shutdown(): Promise<ChainShutdownReport> {
    if (this.stopped) throw new InstanceFailedError('chain already shut down');
    this.stopped = true;
    for (const stop of this.stops) {
      Atomics.store(stop, 0, 1);
      Atomics.notify(stop, 0);
    }
    try {
      await Promise.all(this.hops.map((_, i) => this.waitFor(i, 'closing')));
      for (const end of this.ends) end.returnRx();
      const stopped = await Promise.all(this.hops.map((_, i) => this.waitFor(i, 'stopped')));
      const ids = this.scratch;
      for (const end of this.ends) {
        for (let n = end.pollTx(ids, BATCH); n > 0; n = end.pollTx(ids, BATCH)) this.pool.freeBatch(ids, n);
      }
      for (const fifo of this.fifos) {
        this.heldAtShutdown += fifo.count;
        if (fifo.count > 0) this.pool.freeBatch(fifo.ids, fifo.count);
        fifo.shift(fifo.count);
      }
      return {
        received: stopped.map((m) => (m.type === 'stopped' ? m.received : 0)),
        batches: stopped.map((m) => (m.type === 'stopped' ? m.batches : 0)),
        leaks: this.pool.leakCheck() };
    } finally {
      for (const hop of this.hops) await hop.worker.terminate();
    }
  }

  private async waitFor(hop: number, type: InstanceMessage['type']): Promise<InstanceMessage> {
    const deadline = performance.now() + this.timeoutMs;
    const messages = this.inbox[hop];
    const worker = this.hops[hop].worker;
    for (;;) {
      const found = messages.find((m) => m.type === type);
      if (found) return found;
      if (this.failure !== null) throw this.failure;
      const left = deadline - performance.now();
      if (left <= 0) throw new InstanceFailedError(`instance ${hop} (${this.hops[hop].name}) sent no '${type}' within ${this.timeoutMs} ms`);
      const timer = new AbortController();
      const t = setTimeout(() => timer.abort(), left);
      // Both waits end (settle or abort) below; neither may reject unobserved.
      const message = once(worker, 'message', { signal: timer.signal }).catch(() => undefined);
      const error = once(worker, 'error', { signal: timer.signal }).then(
        ([err]) => {
          this.failure ??= err as Error;
        },
        () => undefined,
      );
      try {
        await Promise.race([message, error]);
      } finally {
        clearTimeout(t);
        timer.abort();
      }
    }
  }
}
