import { MaglevTable } from '../flow/maglev.ts';
import type { ImageManifest } from '../image/image-manifest.ts';
import type { PacketPool } from '../pool/packet-pool.ts';
import type { InstanceHost } from '../runtime/instance-host.ts';
import { HOST_DROP_LIST } from './host-drop-reason.ts';
import { LinkFifo } from './link-fifo.ts';
import type { SteeringSide } from './link-steering.ts';
import { AWAITING_HEIR, STATE_LOST } from './steering-codes.ts';

/** Role of an instance in its stage. */
export type StageInstanceState =
  /** Takes new flows and keeps its pinned ones. */
  | 'active'
  /** Takes no new flows; keeps its pinned ones until they end or the drain times out. */
  | 'draining'
  /** Stopped or failed: no frame is sent to it any more. */
  | 'gone';

/**
 * One booted instance of a stage, as the data plane tracks it. The frames waiting for its
 * receiveqs (`toEth0`, `toEth1`) are owned by its device owner (`host.pool`), so a failed
 * instance's containment reclaims them with the rest of its buffers.
 */
export class StageInstance {
  /** Never reused within the stage; flow pins store it. */
  readonly slot: number;
  /** `<stage>-<n>`, unique within the chain. */
  readonly id: string;
  readonly host: InstanceHost;
  readonly manifest: ImageManifest;
  /** The image's path in the store. */
  readonly imagePath: string;
  /** Pool handle of the instance's device ends. */
  readonly pool: PacketPool;
  readonly toEth0: LinkFifo;
  readonly toEth1: LinkFifo;
  state: StageInstanceState = 'active';
  /** Why the instance is in its state (`scale-in`, `rolling update`, a failure, …). */
  reason = '';
  /** Link entries that pin a flow to this instance (on either adjacent link). */
  pins = 0;
  /** Entries on the link before this stage (one per flow through it). */
  flows = 0;
  /** Unix ms when its boot started. */
  readonly startedAt: number;
  /** Its shard (see `AddInstanceOptions.shards`), if any. */
  readonly shard: number | undefined;
  /** Host memory its pipeline keeps connection state in (`manifest.stateBytes`), if any. */
  readonly stateSab: SharedArrayBuffer | undefined;
  /**
   * After it failed: the slot of the instance that took its state over (its pins follow
   * it), {@link AWAITING_HEIR} while its state waits for a successor, or -1.
   */
  heir = -1;
  /** With direct links: its lane in the link area (-1: none), its slot there, what was last published for it, its stats block. */
  lane = -1;
  laneSlot = -1;
  laneRole: '' | StageInstanceState | 'released' = '';
  laneHeir = -1;
  linkStats: Float64Array | undefined = undefined;
  /** The part of `pins` and `flows` counted in the link area (instances' own tables), as last added. */
  directPins = 0;
  directFlows = 0;

  /**
   * Backlog toward the instance's `side` (0 eth0, 1 eth1), 0..1: frames waiting in the host
   * FIFO because the receiveq is full, over the FIFO's capacity. 0 while the instance keeps
   * up; 1 when it does not and the host back-pressures the link behind it.
   */
  backlog(side: number): number {
    const fifo = side === 0 ? this.toEth0 : this.toEth1;
    return fifo.count / fifo.ids.length;
  }

  /** Counters of the ports placed in the instance (`AddInstanceOptions.ports`), read without messages. */
  readonly portCounters: Float64Array | undefined;

  constructor(slot: number, id: string, host: InstanceHost, manifest: ImageManifest, imagePath: string, fifoSize: number, shard?: number, portCounters?: Float64Array, stateSab?: SharedArrayBuffer) {
    this.shard = shard;
    this.stateSab = stateSab;
    this.portCounters = portCounters;
    this.slot = slot;
    this.id = id;
    this.host = host;
    this.manifest = manifest;
    this.imagePath = imagePath;
    this.pool = host.pool;
    this.toEth0 = new LinkFifo(fifoSize);
    this.toEth1 = new LinkFifo(fifoSize);
    this.startedAt = Date.now() - (Number.isFinite(host.bootMs) ? host.bootMs : 0);
  }
}

export { AWAITING_HEIR, STATE_LOST };

/** The state a failed instance left for a successor of the same image (see `Stage.orphan`). */
export interface OrphanedState {
  readonly instance: StageInstance;
  /** `performance.now()` after which nobody takes it over any more. */
  readonly deadline: number;
}

/**
 * The instances of one function in a chain and how new flows are spread over them: a
 * Maglev table over the `active` ones (consistent hashing of the symmetric flow hash), so
 * adding or draining one instance moves the fewest *new* flows; existing flows never move
 * (they are pinned in the link tables).
 *
 * @example
 * ```ts
 * const stage = new Stage('fw', 0);
 * stage.add(instance);          // then: stage.pick(hash) → slot
 * stage.setState(instance, 'draining');
 * ```
 */
export class Stage implements SteeringSide {
  readonly name: string;
  readonly index: number;
  /** Every instance ever added, by slot (gone ones stay, so stale pins resolve to 'gone'). */
  readonly bySlot: StageInstance[] = [];
  /** Instances that are not gone, in slot order (the pump's working list). */
  live: StageInstance[] = [];
  /**
   * Frames the host dropped on their way into this stage's instances (or, at a chain end,
   * out of them), by `HostDrop` reason: `nfvkit_host_drops_total{function}`. The chain's
   * `ChainDataPlane.drops` are the sums over its stages.
   */
  readonly hostDrops = new Float64Array(HOST_DROP_LIST.count);
  /** Shards held by live or booting instances (and by orphans, for their heirs). */
  private readonly shardsHeld = new Set<number>();
  /** Failed instances whose state waits for a successor (`orphan`). */
  private orphans: OrphanedState[] = [];
  /** Booted instances numbered so far (for ids). */
  private numbered = 0;
  private maglev: MaglevTable | null = null;
  /** Maglev backend index → slot. */
  private activeSlots: number[] = [];

  constructor(name: string, index: number) {
    this.name = name;
    this.index = index;
  }

  /** The id the next instance gets. */
  nextId(): string {
    return `${this.name}-${this.numbered++}`;
  }

  /** Adds a booted instance that takes new flows. */
  add(instance: StageInstance): void {
    this.bySlot[instance.slot] = instance;
    this.live = this.bySlot.filter((i) => i.state !== 'gone');
    this.rebuild();
  }

  /** Next free slot. */
  get nextSlot(): number {
    return this.bySlot.length;
  }

  /** Takes the lowest shard of `count` no live or booting instance holds; undefined if all are held. */
  reserveShard(count: number): number | undefined {
    for (let i = 0; i < count; i++) {
      if (!this.shardsHeld.has(i)) {
        this.shardsHeld.add(i);
        return i;
      }
    }
    return undefined;
  }

  /** Gives a shard back (its instance failed to boot or is gone). */
  releaseShard(shard: number): void {
    this.shardsHeld.delete(shard);
  }

  /**
   * Takes a failed instance out while keeping its connection state (and its shard) for a
   * successor of the same image until `deadline`: its pins wait (`AWAITING_HEIR`) instead of
   * moving to another instance that would not know their connections.
   */
  orphan(instance: StageInstance, reason: string, deadline: number): void {
    instance.heir = AWAITING_HEIR;
    this.orphans.push({ instance, deadline });
    this.setState(instance, 'gone', reason);
  }

  /** The orphaned state a new instance of image `imageId` takes over (removed from the list), if any. */
  takeOrphan(imageId: string): StageInstance | undefined {
    const i = this.orphans.findIndex((o) => o.instance.manifest.id === imageId);
    return i < 0 ? undefined : this.orphans.splice(i, 1)[0].instance;
  }

  /** Gives an orphan back (its successor failed to boot). */
  returnOrphan(instance: StageInstance, deadline: number): void {
    this.orphans.push({ instance, deadline });
  }

  /** Orphans whose deadline passed at `now`: removed, their pins free to move, their shards released; the caller frees their state. */
  expireOrphans(now: number): StageInstance[] {
    const gone = this.orphans.filter((o) => now >= o.deadline).map((o) => o.instance);
    if (gone.length === 0) return gone;
    this.orphans = this.orphans.filter((o) => now < o.deadline);
    for (const inst of gone) {
      inst.heir = STATE_LOST;
      if (inst.shard !== undefined) this.releaseShard(inst.shard);
    }
    return gone;
  }

  /**
   * Where frames pinned to the gone instance at `slot` go: its heir's slot (following a
   * chain of heirs) when that one is not gone, `AWAITING_HEIR` while its state waits,
   * `STATE_LOST` when its state is gone, or -1 (pick a new instance).
   */
  heirOf(slot: number): number {
    let inst = this.bySlot[slot];
    for (let hops = 0; hops < 64 && inst.state === 'gone'; hops++) {
      if (inst.heir < 0) return inst.heir;
      inst = this.bySlot[inst.heir];
    }
    return inst.state === 'gone' ? -1 : inst.slot;
  }

  /** True when the instance at `slot` is gone (`SteeringSide`). */
  isGone(slot: number): boolean {
    return this.bySlot[slot].state === 'gone';
  }

  /** Counts a link entry pinning the instance at `slot` (`SteeringSide`): `pins`, and `flows` for the link into the stage. */
  pin(slot: number, delta: number, flow: boolean): void {
    const inst = this.bySlot[slot];
    inst.pins += delta;
    if (flow) inst.flows += delta;
  }

  /** Changes an instance's role and rebuilds the new-flow table. */
  setState(instance: StageInstance, state: StageInstanceState, reason: string): void {
    if (state === 'gone' && instance.shard !== undefined && instance.heir !== AWAITING_HEIR) this.releaseShard(instance.shard);
    instance.state = state;
    instance.reason = reason;
    this.live = this.bySlot.filter((i) => i.state !== 'gone');
    this.rebuild();
  }

  /** Instances taking new flows. */
  activeCount(): number {
    return this.activeSlots.length;
  }

  /** Slot for a new flow with symmetric hash `hash`, or -1 when no instance is active. */
  pick(hash: number): number {
    const m = this.maglev;
    if (m === null) return -1;
    return this.activeSlots[m.lookup(hash)];
  }

  /** Fewest free FIFO places toward eth0 (`side` 0) or eth1 (1) over the live instances. */
  minFree(side: 0 | 1): number {
    const live = this.live;
    let min = 1 << 30;
    for (let i = 0; i < live.length; i++) {
      const f = side === 0 ? live[i].toEth0.free() : live[i].toEth1.free();
      if (f < min) min = f;
    }
    return min;
  }

  private rebuild(): void {
    const active = this.bySlot.filter((i) => i.state === 'active');
    this.activeSlots = active.map((i) => i.slot);
    this.maglev = active.length === 0 ? null : MaglevTable.build(active.map((i) => ({ name: i.id, weight: 1 })), { tableSize: 4099 });
  }
}
