import { EtherType } from '../../packet/ethernet.ts';
import { IpProto } from '../../packet/ipv4.ts';
import type { BufferRecycler } from '../../pool/buffer-recycler.ts';
import { FrameTemplates } from '../../pool/frame-templates.ts';
import type { PoolHandle } from '../../pool/pool-handle.ts';
import type { ChainPort } from '../chain-port.ts';
import { CLIENT_PORT_BASE, clientPortPlan, CONTROL_FRAME_ROOM, FlowFrameKind, writeClientFrame, type ClientFlowsSpec } from './client-flows.ts';
import { NO_MEMBER, SHARD_COUNT, SHARD_SEQ, shardBlockLayout, type ShardBlockLayout } from './client-shard-block.ts';

/** What a replica's share of a generator is given (plain data: it crosses to the instance). */
export interface ShardedClientsSpec extends ClientFlowsSpec {
  /** Shards the flows are split into (flow `f` is in shard `f mod shards`); the block must say the same. */
  readonly shards: number;
  /** This replica's member number, as the owner and holder words name it. */
  readonly member: number;
  /** The chain's shard block (`client-shard-block.ts`). */
  readonly block: SharedArrayBuffer;
  /** Frames in all over every replica (omitted: endless): each shard gets its share, counted in the block. */
  readonly total?: number;
  /** Frames per second over every replica (omitted or 0: unpaced): this replica paces at its shards' share. */
  readonly rate?: number;
}

/** Slots of the clients' own figures in the local ports' counters (see `LocalPortCounter`). */
export interface ClientCounterSlots {
  readonly flowsOpen: number;
  readonly flowsClosing: number;
  readonly flowsOpened: number;
  readonly flowsClosed: number;
  readonly flowsMovedIn: number;
  readonly flowsMovedOut: number;
  readonly openTimeouts: number;
  readonly closeTimeouts: number;
  readonly shardsHeld: number;
  readonly seqSeen: number;
  readonly blockRejected: number;
  readonly staleReplies: number;
}

/** How long a SYN or a FIN waits for its answer before the flow goes on (data) or counts as closed, ms. */
export const CLIENT_ANSWER_TIMEOUT_MS = 1000;

const IDLE = 0;
const SYN_QUEUED = 1;
const SYN_SENT = 2;
const OPEN = 3;
const FIN_QUEUED = 4;
const FIN_SENT = 5;
/** Its shard sent its share of `total`. */
const DONE = 6;

/** A shard this replica does not hold, holds, or is giving up (FINs still to send). */
const FREE = 0;
const HELD = 1;
const RELEASING = 2;

const TCP_SYN = 0x02;
const TCP_FIN = 0x01;
const TCP_RST = 0x04;
const TCP_ACK = 0x10;

/**
 * A replica's share of a chain's generator (ports in the replicas): the flows of the
 * shards the host assigned to it through the shard block, which it reads before every
 * batch. A shard it is given and finds free it takes (its connection generation +1) and
 * opens every flow of it anew: a TCP SYN from a fresh source port, data once the SYN-ACK
 * came back (or after `CLIENT_ANSWER_TIMEOUT_MS`, as the host generator does); a UDP flow
 * just starts. A shard taken from it it closes honestly: no more data, a FIN per open TCP
 * flow through its own chain (its functions release the connection), then it frees the
 * shard for the replica that takes it over. Flows opened on a shard that moved count as
 * `flowsMovedIn`, flows closed because their shard went to another replica as `flowsMovedOut`; the closes are
 * confirmed by the responder's FIN-ACK (`flowsClosed`) or time out (`closeTimeouts`).
 *
 * Data frames go round robin over the open flows: each flow's data frame is a template
 * (`FrameTemplates`, rewritten when the flow opens from a new source port; nothing in it
 * changes per frame), copied in with `copyOne` and counted once per batch, no allocation. With `total`, every frame (SYN, data, FIN) counts against its
 * shard's share in the block, so moves never send more than asked in all.
 *
 * @example
 * ```ts
 * const clients = new ShardedClientsPort({ ...flows, shards: 64, member: 0, block }, counters, slots);
 * ```
 */
export class ShardedClientsPort implements ChainPort {
  private readonly spec: ShardedClientsSpec;
  private readonly layout: ShardBlockLayout;
  private readonly words: Int32Array;
  private readonly shardSent: Float64Array;
  private readonly quota: Float64Array | null;
  private readonly state: Uint8Array;
  private readonly generation: Int32Array;
  private readonly since: Float64Array;
  private readonly active: Int32Array;
  private readonly activeAt: Int32Array;
  private activeCount = 0;
  private cursor = 0;
  private readonly held: Uint8Array;
  /** Flows of each shard whose SYN or FIN waits to be sent. */
  private readonly queued: Int32Array;
  private queuedTotal = 0;
  /** The connection generation of each shard it holds (taken from the block at each take). */
  private readonly shardGeneration: Int32Array;
  /** Flows waiting for an answer (SYN or FIN sent). */
  private waiting = 0;
  private lastScan = 0;
  /** The owners as last copied from the block. */
  private readonly owners: Int32Array;
  private seq = 0;
  /** Shards whose owner and holding differ (work left: take, give up). */
  private unsettled = false;
  private heldCount = 0;
  private tokens = 0;
  private lastRefill = performance.now();
  /** Each flow's data frame (rewritten when the flow opens anew). */
  private readonly templates: FrameTemplates;
  /** Where a flow's data frame is written before it replaces its template. */
  private readonly dataFrame: Uint8Array;
  private readonly dataView: DataView;
  private readonly control = new Uint8Array(CONTROL_FRAME_ROOM);
  private readonly controlView = new DataView(this.control.buffer);
  private readonly scratch = new Uint32Array(256);
  private readonly rows: number;
  private readonly generations: number;
  private readonly tcp: boolean;

  /** `recycler`: allocate data frames from the buffers a sink in the same instance gave back (`BufferRecycler`) before the pool. */
  constructor(
    spec: ShardedClientsSpec,
    private readonly counters: Float64Array,
    private readonly slots: ClientCounterSlots,
    private readonly recycler?: BufferRecycler,
  ) {
    this.spec = spec;
    this.layout = shardBlockLayout(spec.shards);
    if (!(spec.block.byteLength >= this.layout.bytes)) throw new RangeError(`shard block of ${spec.block.byteLength} B is smaller than ${this.layout.bytes} B`);
    this.words = new Int32Array(spec.block, 0, this.layout.sent * 2);
    this.shardSent = new Float64Array(spec.block, this.layout.sent * 8, spec.shards);
    const S = spec.shards;
    const total = spec.total;
    if (total === undefined || !Number.isFinite(total)) this.quota = null;
    else {
      this.quota = new Float64Array(S);
      for (let s = 0; s < S; s++) this.quota[s] = Math.floor(total / S) + (s < total % S ? 1 : 0);
    }
    const F = spec.flows;
    this.state = new Uint8Array(F);
    this.generation = new Int32Array(F);
    this.since = new Float64Array(F);
    this.active = new Int32Array(F);
    this.activeAt = new Int32Array(F).fill(-1);
    this.held = new Uint8Array(S);
    this.queued = new Int32Array(S);
    this.shardGeneration = new Int32Array(S);
    this.owners = new Int32Array(S).fill(NO_MEMBER);
    this.tcp = spec.proto === IpProto.TCP;
    const probe = new DataView(new ArrayBuffer(2048));
    const dataLength = writeClientFrame(spec, probe, 0, 0, 0, FlowFrameKind.DATA);
    this.templates = FrameTemplates.blank(F, dataLength);
    this.dataFrame = new Uint8Array(dataLength);
    this.dataView = new DataView(this.dataFrame.buffer);
    const plan = clientPortPlan(spec);
    this.rows = plan.rows;
    this.generations = plan.generations;
  }

  fill(pool: PoolHandle, ids: Uint32Array, max: number): number {
    const now = performance.now();
    this.readBlock();
    if (this.unsettled) this.settle(now);
    if (this.waiting > 0 && now - this.lastScan >= 100) this.expire(now);
    // SYNs and FINs are not paced: a replica giving up its last shard has no rate left, and its FINs must still leave.
    let n = 0;
    if (this.queuedTotal > 0) n = this.fillControl(pool, ids, max, now);
    let room = max - n;
    const rate = this.spec.rate ?? 0;
    if (rate > 0) {
      const share = (rate * this.heldCount) / this.spec.shards;
      const burst = Math.max(32, Math.ceil(share / 100));
      this.tokens = Math.min(burst, this.tokens + ((now - this.lastRefill) * share) / 1000);
      this.lastRefill = now;
      const allowed = Math.floor(this.tokens);
      if (allowed < room) room = allowed;
    }
    if (room > 0 && this.activeCount > 0) {
      const sent = this.fillData(pool, ids, n, room);
      n += sent;
      if (rate > 0) this.tokens -= sent;
    }
    return n;
  }

  /** Answers from the chain (SYN-ACKs, FIN-ACKs, resets, anything else): matched to their flow, counted, freed. */
  take(pool: PoolHandle, ids: Uint32Array, n: number): void {
    if (this.tcp) {
      const view = pool.view;
      const length = pool.meta.length;
      for (let i = 0; i < n; i++) this.answer(view, pool.dataOffset(ids[i]), length[ids[i]]);
    }
    pool.freeBatch(ids, n);
  }

  /** Copies the owners when the host published new ones (sequence even and unchanged across the copy). */
  private readBlock(): void {
    const words = this.words;
    const seq = Atomics.load(words, SHARD_SEQ);
    if (seq === this.seq || (seq & 1) === 1) return;
    const S = this.spec.shards;
    if (Atomics.load(words, SHARD_COUNT) !== S) {
      this.counters[this.slots.blockRejected]++;
      this.seq = seq;
      return;
    }
    const base = this.layout.owners;
    const owners = this.owners;
    for (let s = 0; s < S; s++) owners[s] = Atomics.load(words, base + s);
    if (Atomics.load(words, SHARD_SEQ) !== seq) return;
    this.seq = seq;
    this.counters[this.slots.seqSeen] = seq;
    this.unsettled = true;
  }

  /** Takes the shards given to it that are free, gives up those taken from it. */
  private settle(now: number): void {
    const S = this.spec.shards;
    const me = this.spec.member;
    const words = this.words;
    let unsettled = false;
    for (let s = 0; s < S; s++) {
      const mine = this.owners[s] === me;
      const held = this.held[s];
      if (mine && held === FREE) {
        if (Atomics.compareExchange(words, this.layout.holders + s, NO_MEMBER, me) === NO_MEMBER) this.takeShard(s, now);
        else unsettled = true; // its last holder is still closing its flows
      } else if (mine && held === RELEASING) {
        this.held[s] = HELD;
        this.reopen(s, now);
      } else if (!mine && held === HELD) {
        this.giveUp(s);
        if (this.held[s] !== FREE) unsettled = true;
      } else if (!mine && held === RELEASING) {
        this.finishRelease(s);
        if (this.held[s] !== FREE) unsettled = true;
      }
    }
    this.unsettled = unsettled;
    this.counters[this.slots.shardsHeld] = this.heldCount;
  }

  /** Holds shard `s` from now on: a new connection generation, every flow opened anew. */
  private takeShard(s: number, now: number): void {
    const gen = this.nextGeneration(s);
    const moved = gen > 1;
    this.held[s] = HELD;
    this.heldCount++;
    const S = this.spec.shards;
    let opened = 0;
    for (let f = s; f < this.spec.flows; f += S) {
      if (this.state[f] !== IDLE && this.state[f] !== DONE) continue;
      this.open(f, now);
      opened++;
    }
    if (moved) this.counters[this.slots.flowsMovedIn] += opened;
  }

  /** Shard `s` came back while it was still closing its flows: those not yet closed stay open, the closed ones open anew. */
  private reopen(s: number, now: number): void {
    this.nextGeneration(s);
    this.heldCount++;
    const S = this.spec.shards;
    for (let f = s; f < this.spec.flows; f += S) {
      const st = this.state[f];
      if (st === FIN_QUEUED) {
        // The FIN never left: the connection is still open.
        this.state[f] = OPEN;
        this.queued[s]--;
        this.queuedTotal--;
        this.counters[this.slots.flowsClosing]--;
        this.counters[this.slots.flowsOpen]++;
        this.addActive(f);
      } else if (st === IDLE) {
        this.open(f, now);
      }
    }
  }

  /** A new connection generation of shard `s` (its holder's to take): its flows open from fresh source ports. */
  private nextGeneration(s: number): number {
    const gen = Atomics.add(this.words, this.layout.generations + s, 1) + 1;
    this.shardGeneration[s] = gen;
    return gen;
  }

  /** Opens flow `f` in its generation: its data template, then a queued SYN (TCP) or straight into the round (UDP). */
  private open(f: number, now: number): void {
    this.generation[f] = this.shardGeneration[f % this.spec.shards];
    writeClientFrame(this.spec, this.dataView, 0, f, this.generation[f] - 1, FlowFrameKind.DATA);
    this.templates.rewrite(f, this.dataFrame);
    this.counters[this.slots.flowsOpened]++;
    this.counters[this.slots.flowsOpen]++;
    if (!this.tcp) {
      this.state[f] = OPEN;
      this.addActive(f);
      return;
    }
    this.state[f] = SYN_QUEUED;
    this.since[f] = now;
    const s = f % this.spec.shards;
    this.queued[s]++;
    this.queuedTotal++;
  }

  /** Shard `s` was taken from it: no more data; a FIN for every TCP flow that is open or opening. */
  private giveUp(s: number): void {
    this.held[s] = RELEASING;
    this.heldCount--;
    const S = this.spec.shards;
    let closed = 0;
    for (let f = s; f < this.spec.flows; f += S) {
      const st = this.state[f];
      if (st === SYN_QUEUED) {
        // Never sent: nothing to close.
        this.state[f] = IDLE;
        this.queued[s]--;
        this.queuedTotal--;
        this.counters[this.slots.flowsOpen]--;
        this.counters[this.slots.flowsClosed]++;
        closed++;
      } else if (st === OPEN || st === SYN_SENT) {
        if (st === SYN_SENT) this.waiting--;
        else this.removeActive(f);
        this.counters[this.slots.flowsOpen]--;
        closed++;
        if (!this.tcp) {
          this.state[f] = IDLE;
          this.counters[this.slots.flowsClosed]++;
          continue;
        }
        this.state[f] = FIN_QUEUED;
        this.queued[s]++;
        this.queuedTotal++;
        this.counters[this.slots.flowsClosing]++;
      }
    }
    // Given to another replica: a move; given to nobody (the chain is being deleted): a close.
    if (this.owners[s] !== NO_MEMBER) this.counters[this.slots.flowsMovedOut] += closed;
    this.finishRelease(s);
  }

  /** Frees shard `s` in the block once every FIN of it has left. */
  private finishRelease(s: number): void {
    if (this.queued[s] > 0) return;
    this.held[s] = FREE;
    Atomics.compareExchange(this.words, this.layout.holders + s, this.spec.member, NO_MEMBER);
  }

  /** Sends queued SYNs and FINs (rare: when shards move), at most `max`, at `ids[0…)`. */
  private fillControl(pool: PoolHandle, ids: Uint32Array, max: number, now: number): number {
    const S = this.spec.shards;
    const scratch = this.scratch;
    const got = pool.allocBatch(scratch, Math.min(max, this.queuedTotal, scratch.length));
    const quota = this.quota;
    let taken = 0;
    let n = 0;
    for (let s = 0; s < S && taken < got; s++) {
      if (this.queued[s] === 0) continue;
      for (let f = s; f < this.spec.flows && taken < got && this.queued[s] > 0; f += S) {
        const st = this.state[f];
        if (st !== SYN_QUEUED && st !== FIN_QUEUED) continue;
        const syn = st === SYN_QUEUED;
        this.queued[s]--;
        this.queuedTotal--;
        if (quota !== null && this.shardSent[s] >= quota[s]) {
          // Its shard sent its share of `total`: nothing more leaves for it, not even the FIN.
          this.state[f] = syn ? DONE : IDLE;
          if (syn) this.counters[this.slots.flowsOpen]--;
          else {
            this.counters[this.slots.flowsClosing]--;
            this.counters[this.slots.flowsClosed]++;
          }
          continue;
        }
        const id = scratch[taken++];
        // A buffer re-owned under us since the allocation (only a hostile instance writes that word) is not ours to fill.
        if (pool.ownerOf(id) !== pool.ownerId) {
          this.queued[s]++;
          this.queuedTotal++;
          continue;
        }
        const len = writeClientFrame(this.spec, this.controlView, 0, f, this.generation[f] - 1, syn ? FlowFrameKind.SYN : FlowFrameKind.FIN);
        pool.copyIn(id, this.control, 0, len);
        ids[n++] = id;
        this.state[f] = syn ? SYN_SENT : FIN_SENT;
        this.since[f] = now;
        this.waiting++;
        if (quota !== null) this.shardSent[s]++;
      }
      if (this.queued[s] === 0 && this.held[s] === RELEASING) this.finishRelease(s);
    }
    if (taken < got) pool.freeBatch(scratch.subarray(taken), got - taken);
    return n;
  }

  /** Data frames round robin over the open flows, written at `ids[at…)`. */
  private fillData(pool: PoolHandle, ids: Uint32Array, at: number, max: number): number {
    const out = at === 0 ? ids : this.scratch;
    const want = max < out.length ? max : out.length;
    const got = this.recycler === undefined ? pool.allocBatch(out, want) : this.recycler.alloc(pool, out, want);
    const active = this.active;
    const quota = this.quota;
    const S = this.spec.shards;
    const templates = this.templates;
    let kept = 0;
    let c = this.cursor;
    let i = 0;
    for (; i < got && this.activeCount > 0; i++) {
      const id = out[i];
      if (c >= this.activeCount) c = 0;
      const f = active[c];
      const s = f % S;
      if (quota !== null && this.shardSent[s] >= quota[s]) {
        // Its shard sent its share: the flow is done; the buffer goes to the next one.
        this.state[f] = DONE;
        this.removeActive(f);
        this.counters[this.slots.flowsOpen]--;
        i--;
        continue;
      }
      // A buffer re-owned under us since the allocation (only a hostile instance writes that word) takes no frame.
      if (!templates.copyOne(pool, id, f)) continue;
      if (quota !== null) this.shardSent[s]++;
      out[kept++] = id;
      c++;
    }
    templates.countCopies(pool);
    this.cursor = c;
    // Buffers left when the last open flow finished (the ones skipped above are not ours).
    if (i < got) pool.freeBatch(out.subarray(i), got - i);
    if (out !== ids) for (let i = 0; i < kept; i++) ids[at + i] = out[i];
    return kept;
  }

  /** Flows whose SYN or FIN waited too long: a SYN's flow goes on with data, a FIN's counts as closed. */
  private expire(now: number): void {
    this.lastScan = now;
    const state = this.state;
    for (let f = 0; f < this.spec.flows; f++) {
      const st = state[f];
      if ((st !== SYN_SENT && st !== FIN_SENT) || now - this.since[f] < CLIENT_ANSWER_TIMEOUT_MS) continue;
      this.waiting--;
      if (st === SYN_SENT) {
        this.counters[this.slots.openTimeouts]++;
        this.established(f);
      } else {
        this.counters[this.slots.closeTimeouts]++;
        this.closed(f);
      }
    }
  }

  /** One frame that left the chain at the clients: a SYN-ACK opens its flow, a FIN-ACK closes it. */
  private answer(view: DataView, off: number, len: number): void {
    if (len < 54) return;
    const ethertype = view.getUint16(off + 12);
    let l4: number;
    let host: number;
    if (ethertype === EtherType.IPV4 && this.spec.family === 4) {
      const l3 = off + 14;
      const ihl = (view.getUint8(l3) & 0x0f) << 2;
      if (view.getUint8(l3 + 9) !== IpProto.TCP || ihl < 20) return;
      l4 = l3 + ihl;
      host = (view.getUint32(l3 + 16) - this.spec.clients[0]) | 0;
    } else if (ethertype === EtherType.IPV6 && this.spec.family === 6) {
      const l3 = off + 14;
      if (view.getUint8(l3 + 6) !== IpProto.TCP) return;
      l4 = l3 + 40;
      host = (view.getUint32(l3 + 36) - this.spec.clients[3]) | 0;
    } else return;
    if (l4 + 20 > off + len) return;
    const flags = view.getUint8(l4 + 13);
    const k = view.getUint16(l4 + 2) - CLIENT_PORT_BASE;
    const hostIndex = host - 1;
    if (k < 0 || hostIndex < 0 || hostIndex >= this.spec.hosts) return this.stale();
    const row = k % this.rows;
    const f = row * this.spec.hosts + hostIndex;
    if (f >= this.spec.flows || ((k - row) / this.rows) % this.generations !== (this.generation[f] - 1) % this.generations) return this.stale();
    const st = this.state[f];
    if (st === SYN_SENT && (flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK)) {
      this.waiting--;
      this.established(f);
    } else if (st === FIN_SENT && (flags & (TCP_FIN | TCP_RST)) !== 0) {
      this.waiting--;
      this.closed(f);
    } else if ((flags & TCP_RST) !== 0 && (st === OPEN || st === SYN_SENT)) {
      // Reset by the chain (a function lost the connection): counted, the flow keeps sending.
      this.stale();
    }
  }

  private stale(): void {
    this.counters[this.slots.staleReplies]++;
  }

  /** A SYN answered (or timed out): data from now on, unless its shard is being given up (then it is closed). */
  private established(f: number): void {
    const s = f % this.spec.shards;
    if (this.held[s] === HELD) {
      this.state[f] = OPEN;
      this.addActive(f);
      return;
    }
    this.counters[this.slots.flowsOpen]--;
    if (this.held[s] === RELEASING) {
      this.state[f] = FIN_QUEUED;
      this.queued[s]++;
      this.queuedTotal++;
      this.counters[this.slots.flowsClosing]++;
    } else {
      // Not held any more (cannot happen: giving a shard up closes its opening flows first).
      this.state[f] = IDLE;
      this.counters[this.slots.flowsClosed]++;
    }
  }

  private closed(f: number): void {
    this.state[f] = IDLE;
    this.counters[this.slots.flowsClosing]--;
    this.counters[this.slots.flowsClosed]++;
    // Its shard may have come back while it closed.
    if (this.held[f % this.spec.shards] === HELD) this.open(f, performance.now());
  }

  private addActive(f: number): void {
    this.activeAt[f] = this.activeCount;
    this.active[this.activeCount++] = f;
  }

  private removeActive(f: number): void {
    const at = this.activeAt[f];
    if (at < 0) return;
    const last = this.active[--this.activeCount];
    this.active[at] = last;
    this.activeAt[last] = at;
    this.activeAt[f] = -1;
  }
}
