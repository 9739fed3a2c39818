import type { ChainPort } from '../dataplane/chain-port.ts';
import type { PoolHandle } from '../pool/pool-handle.ts';
import type { PipelineInstance } from '../pipeline/compiled-pipeline.ts';
import { MAX_BATCH, PacketBatch } from '../pipeline/packet-batch.ts';
import { Verdict } from '../pipeline/verdict.ts';
import { recordBatch } from '../metrics/loop-stats.ts';
import type { PacketTracer } from '../trace/packet-tracer.ts';
import { SpinThenWait, type Doorbell } from '../virtio/doorbell.ts';
import type { Link } from '../dataplane/links/link.ts';
import { waitOnLinks } from '../dataplane/links/link-wait.ts';

/** Longest sleep of an idle instance loop between passes, ms (a peer's doorbell ends it at once). */
export const IDLE_SLEEP_MAX_MS = 16;

/**
 * Empty passes in a row before an instance loop stops polling (then `spinMs`, then a sleep).
 * Few: with more busy threads than cores every empty pass takes the core a peer needs. At
 * 64 (each an `rte_pause`-like pause and a look at both links, ~1–3 µs with direct links)
 * an instance of pass-through ×3 over direct links made ~150 passes per 256-frame batch
 * (two rounds of 64: one waiting for room, one for the next batch), most of its CPU.
 */
export const IDLE_SPINS = 8;

/**
 * The poll loop of an instance: take a batch from one side's link, run the fused pipeline
 * over it in place, hand the survivors to the link of the side their verdict names, and
 * free the dropped buffers. Packet bytes never move; only buffer ids do.
 *
 * Links are indexed by side: `links[0]` is `eth0` (inside), `links[1]` is `eth1`
 * (outside); each is a `Link` (`src/dataplane/links/link.ts`): the virtio-net device to
 * the host, or direct queue pairs to the adjacent stage's instances. When a pass finds no
 * work the loop spins briefly, then sleeps on the shared receive interrupt `irq` (rung for
 * either side; without one, on the link of the side that saw traffic last), 1 ms at most
 * so the stop flag is looked at again soon. With a `stats` block it records each batch's
 * processing time (two clock reads per batch).
 *
 * With `ports` (the chain's ends placed in this instance: `ports[0]` inside, `ports[1]`
 * outside) the loop takes its batches from the ports and hands what leaves to them, run to
 * completion on this thread: no frame crosses the host, and the links stay idle. An idle
 * loop with ports sleeps in `portWait` when its ports have sockets (the addon's waiter:
 * woken by a datagram, `IDLE_SLEEP_MAX_MS` at most so the stop word is seen), otherwise on
 * its stop word for 1 ms.
 *
 * With a `tracer`, each batch first looks at its trace area's session word: while a trace
 * session is on the batch goes through the pipeline's tracing variant
 * (`processBatchTraced`), otherwise through the normal one.
 *
 * @example
 * ```ts
 * const loop = new InstanceLoop(pool, [eth0, eth1], pipeline);
 * loop.run(stopFlag, () => performance.now());
 * ```
 */
export class InstanceLoop {
  /** Packets taken from the receiveqs. */
  received = 0;
  /** Batches processed. */
  batches = 0;
  private readonly batch: PacketBatch;
  private readonly rxIds = new Uint32Array(MAX_BATCH);
  private readonly outIds: Uint32Array[] = [new Uint32Array(MAX_BATCH), new Uint32Array(MAX_BATCH)];
  private readonly dropIds = new Uint32Array(MAX_BATCH);
  private lastBusySide = 0;
  /** Sides the last pass did not take from for want of room (bit k: side k), and links that had none. */
  private stalled = 0;
  private full = 0;

  constructor(
    private readonly pool: PoolHandle,
    private readonly links: readonly [Link, Link],
    private readonly pipeline: PipelineInstance,
    private readonly irq?: Doorbell,
    private readonly stats?: Float64Array,
    private readonly ports?: readonly [ChainPort, ChainPort],
    private readonly tracer?: PacketTracer,
    private readonly portWait?: (timeoutMs: number) => boolean,
  ) {
    this.batch = new PacketBatch(pool.view);
  }

  /** One pass over both sides; returns how many packets it processed. */
  pollOnce(now: number): number {
    if (this.ports !== undefined) return this.pollPorts(this.ports, now);
    let total = 0;
    let stalled = 0;
    const links = this.links;
    const link0 = links[0];
    const link1 = links[1];
    // Take no more than both sides can send: a full peer back-pressures the sender
    // (packets wait in our receive queues) instead of dropping. Room is looked at again
    // only after a batch went out.
    let room0 = link0.txRoom();
    let room1 = link1.txRoom();
    for (let side = 0; side < 2; side++) {
      // A direct link's batch waits only for room where it is forwarded (see `Link.direct`).
      const room = links[side].direct === true ? (side === 0 ? room1 : room0) : room0 < room1 ? room0 : room1;
      if (room === 0) {
        stalled |= 1 << side;
        continue;
      }
      const n = links[side].receive(this.rxIds, room < MAX_BATCH ? room : MAX_BATCH);
      if (n === 0) continue;
      this.processBatch(side, n, now);
      this.lastBusySide = side;
      total += n;
      if (side === 0) {
        room0 = link0.txRoom();
        room1 = link1.txRoom();
      }
    }
    this.stalled = stalled;
    this.full = (room0 === 0 ? 1 : 0) | (room1 === 0 ? 2 : 0);
    return total;
  }

  private pollPorts(ports: readonly [ChainPort, ChainPort], now: number): number {
    let total = 0;
    for (let side = 0; side < 2; side++) {
      const n = ports[side].fill(this.pool, this.rxIds, MAX_BATCH);
      if (n === 0) continue;
      this.processBatch(side, n, now);
      total += n;
    }
    return total;
  }

  /**
   * Polls until `stop[0]` becomes non-zero. After `IDLE_SPINS` passes with no work it keeps
   * polling for `spinMs` (a busy peer's next batch usually comes sooner than a wake-up would
   * take, ~20 µs here; 0: not at all), then sleeps on a receive doorbell. A pass held back by a full peer
   * (frames wait, no room to forward them) spins only its short round of empty polls, then
   * sleeps until that peer has taken frames (`waitOnLinks`): spinning there would take the
   * core the peer needs whenever busy threads outnumber cores. When `heartbeat` is given, its word 0
   * is incremented on every pass (at least about once per millisecond, busy or idle), so a
   * supervisor can tell a hung instance from an idle one.
   */
  run(stop: Int32Array, clock: () => number, spinMs = 0.2, heartbeat?: Int32Array): void {
    const backoff = new SpinThenWait(IDLE_SPINS);
    let idleSince = -1;
    // A sleep on the doorbell ends when a peer rings it; its timeout only bounds how long a
    // quiet instance goes without a pass (heartbeat, control words). It doubles while the
    // sleeps find nothing, so an idle instance wakes ~50 times a second, not 1000.
    let sleepMs = 1;
    while (Atomics.load(stop, 0) === 0) {
      if (heartbeat !== undefined) Atomics.add(heartbeat, 0, 1);
      const now = clock();
      if (this.pollOnce(now) > 0) {
        backoff.busy();
        idleSince = -1;
        sleepMs = 1;
      } else if (backoff.idle()) {
        // spinMs 0 sleeps at the end of the first round of empty passes, not after a second.
        if (idleSince < 0 && this.stalled === 0 && spinMs > 0) idleSince = now;
        else if (this.stalled !== 0 || now - idleSince > spinMs) {
          if (this.portWait !== undefined) {
            const woke = this.portWait(sleepMs);
            sleepMs = woke ? 1 : Math.min(sleepMs * 2, IDLE_SLEEP_MAX_MS);
          } else if (this.ports !== undefined) Atomics.wait(stop, 0, 0, 1);
          else if (this.irq === undefined) {
            const woke = this.links[this.lastBusySide].waitForRx(sleepMs);
            sleepMs = woke ? 1 : Math.min(sleepMs * 2, IDLE_SLEEP_MAX_MS);
          } else if (this.stalled !== 0) {
            // Held back: wait for room on the full links, and for frames on the sides not held back.
            waitOnLinks(this.links, this.irq, 3 & ~this.stalled, this.full, 1);
          } else {
            const woke = waitOnLinks(this.links, this.irq, 3, 0, sleepMs);
            sleepMs = woke ? 1 : Math.min(sleepMs * 2, IDLE_SLEEP_MAX_MS);
          }
          idleSince = -1;
        }
      }
    }
  }

  private processBatch(side: number, n: number, now: number): void {
    const pool = this.pool;
    const meta = pool.meta;
    const batch = this.batch;
    const ids = this.rxIds;
    batch.clear();
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      batch.push(id, pool.dataOffset(id), meta.length[id], side);
    }
    const stats = this.stats;
    const t0 = stats === undefined ? 0 : performance.now();
    // One look at the trace session per batch: the normal loop knows nothing of tracing.
    const tracer = this.tracer;
    if (tracer === undefined || !tracer.active()) this.pipeline.processBatch(batch, now);
    else this.processTraced(batch, now, tracer);
    if (stats !== undefined) recordBatch(stats, (performance.now() - t0) * 1e6);
    let out0 = 0;
    let out1 = 0;
    let dropped = 0;
    for (let i = 0; i < n; i++) {
      const id = batch.ids[i];
      const verdict = batch.verdicts[i];
      if (verdict === Verdict.DROP) {
        this.dropIds[dropped++] = id;
        continue;
      }
      meta.dataOff[id] = batch.offsets[i] - pool.bufferOffset(id);
      meta.length[id] = batch.lengths[i];
      if (verdict === Verdict.INSIDE) this.outIds[0][out0++] = id;
      else this.outIds[1][out1++] = id;
    }
    const ports = this.ports;
    if (ports !== undefined) {
      if (out0 > 0) ports[0].take(pool, this.outIds[0], out0);
      if (out1 > 0) ports[1].take(pool, this.outIds[1], out1);
    } else {
      if (out0 > 0) this.links[0].transmit(this.outIds[0], out0);
      if (out1 > 0) this.links[1].transmit(this.outIds[1], out1);
    }
    if (dropped > 0) pool.freeBatch(this.dropIds, dropped);
    this.received += n;
    this.batches++;
  }

  /** A batch while a trace session is on: the pipeline's tracing variant (the normal one when it has none). */
  private processTraced(batch: PacketBatch, now: number, tracer: PacketTracer): void {
    const traced = this.pipeline.processBatchTraced;
    if (traced === undefined) this.pipeline.processBatch(batch, now);
    else traced.call(this.pipeline, batch, now, tracer);
  }
}
