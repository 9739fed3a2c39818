import { readFileSync } from 'node:fs';
import type { SharedMemory } from '../memory/shared-memory.ts';
import type { StageInstance } from '../dataplane/stage.ts';
import { LOCAL_PORT_COUNTERS, LocalPortCounter, type LocalPortsSpec, type LocalVxlanSpec } from '../dataplane/ports/local-ports.ts';
import type { VxlanPortSettings } from '../dataplane/ports/vxlan-port-config.ts';
import { GATEWAY_COUNTER_KEYS, GATEWAY_COUNTERS_AT, GATEWAY_DROPS_AT, VXLAN_DROPS_AT, VXLAN_PORT_COUNTERS, VxlanBlock } from '../dataplane/ports/vxlan-port-counters.ts';
import { natShardKey, VxlanReplicaGroup, type VxlanGroupKey } from '../dataplane/ports/vxlan-replica-group.ts';
import { AREA_MAX_SHARDS } from '../dataplane/ports/vxlan-replica-area.ts';
import { VXLAN_DROP_NAMES, VxlanDrop } from '../dataplane/ports/vxlan-drop-reason.ts';
import { GATEWAY_DROP_NAMES } from '../gateway/gateway-drop-reason.ts';
import type { ClassifierRules } from '../dataplane/ports/classifier-port.ts';
import { readUdpSocketDrops } from '../dataplane/ports/udp-socket-drops.ts';
import { FailedPreconditionError } from '../errors/catalog.ts';
import { STEERING_BUCKETS, steeringSlot } from '../io/reuseport-steering.ts';
import { INGRESS_TRACE_BYTES } from '../trace/ingress-trace-layout.ts';
import { CLASSIFIER_DROP, type EndDrops } from './chain-ends.ts';
import type { EndsInReplicas, EndTraffic, ReplicaEndView } from './ends-in-replicas.ts';

/**
 * Most member slots of an end's group (replicas at once, leaving ones included): the
 * group's area holds a handoff ring per ordered pair of members, so it grows with their
 * square (pages are used only once touched).
 */
export const VXLAN_REPLICA_MEMBERS_MAX = 16;

/** Member slots for a unit of at most `max` replicas: a rolling update at `max` runs twice as many for a while. */
export function vxlanReplicaMembers(max: number): number {
  return Math.min(VXLAN_REPLICA_MEMBERS_MAX, Math.max(4, 2 * max + 2));
}

/**
 * A leaving replica is drained until a window of this long passed with at most
 * `VXLAN_DRAIN_QUIET_HANDOFFS` datagrams reaching it: handed to it (frames of its flows
 * that landed on another replica) or received on its own sockets (replies on its NAT port
 * shard, which stays with it), ms.
 */
export const VXLAN_DRAIN_QUIET_MS = 3000;

/**
 * Datagrams a quiet window may still bring: a moved bucket's datagrams of protocols with
 * no start marker (not TCP) go to its previous holder too, the kernel hashes ARP and
 * neighbour discovery onto any socket, and a few of them must not keep a replica without
 * flows draining until its timeout.
 */
export const VXLAN_DRAIN_QUIET_HANDOFFS = 4;

/** How a chain's NAT cuts its translated ports among the replicas (`natShardKey`). */
export interface NatShards {
  /** The NAT's translated range (`PipelineDefinition.shardedPorts`). */
  readonly from: number;
  readonly to: number;
  /** Shards the replicas are given (`AddInstanceOptions.shards`). */
  readonly count: number;
}

/**
 * How the outside group steers by a NAT's port shards: the NAT's range (`shardedPorts`)
 * cut into the `count` shards its replicas get; undefined (steered by inner destination)
 * without either, when the range has fewer ports than shards (the NAT then gives every
 * shard all of it) or for more shards than a group's area holds.
 */
export function natShardsOf(ports: { readonly from: number; readonly to: number } | undefined, count: number | undefined): NatShards | undefined {
  if (ports === undefined || count === undefined || count > AREA_MAX_SHARDS || ports.to - ports.from + 1 < count) return undefined;
  return { from: ports.from, to: ports.to, count };
}

/** Block slots that are levels, not totals: a gone replica's no longer count. */
const VXLAN_GAUGES: readonly number[] = [VxlanBlock.NEIGHBOURS, VxlanBlock.IN_FLIGHT, VxlanBlock.LOCAL_PORT, VxlanBlock.RECEIVE_BUFFER_BYTES, VxlanBlock.STEERING_SEQ];
const SIDES = ['inside', 'outside'] as const;
type Side = (typeof SIDES)[number];

/** One replica's part: its instance once ready, its counter blocks, its NAT shard. */
interface Member {
  instance: StageInstance | undefined;
  readonly blocks: Record<Side, Float64Array>;
}

/** A leaving replica's handoff and receive figures when its current quiet window began, and when that was. */
interface Leaving {
  handed: number;
  received: number;
  since: number;
}

/**
 * A fused chain's VXLAN ends run by its replicas (`placeEnds` said `replicas` for
 * `vxlan → vxlan`): each replica binds both ends' UDP ports itself, one SO_REUSEPORT group
 * per end (`VxlanReplicaGroup`), its counters in a block of the data plane's memory
 * (`vxlan-port-counters.ts`). The inside group is steered by the inner source (a client's
 * flows land on one replica); the outside group by the NAT's port shards when the chain
 * has a NAT (replica r allocates from its instance's shard, so a translated reply names its
 * replica), by the inner destination otherwise. The classifier and the trace marks run in
 * the replicas. A replica joins both groups once ready and leaves when it stopped or
 * failed; a leaving one is retired first (no new flows; frames of its flows are handed to
 * it by the others) and drained until a window of `VXLAN_DRAIN_QUIET_MS` passes with at most
 * `VXLAN_DRAIN_QUIET_HANDOFFS` handed to it or received. Figures are the blocks' sums, those of gone
 * replicas kept.
 *
 * @example
 * ```ts
 * const ends = new ReplicaVxlanEnds({ inside, outside }, memory, reason, { from: 1024, to: 65535, count: 8 });
 * const member = ends.reserveMember();
 * const inst = await dataPlane.addInstance(0, image, { ports: ends.portsFor(member), shards: 8 });
 * ends.bind(member, inst); // joins both groups, outside with inst.shard
 * ```
 */
export class ReplicaVxlanEnds implements EndsInReplicas {
  readonly traceBlock: SharedArrayBuffer;
  /** Each end's replica group. */
  readonly groups: Readonly<Record<Side, VxlanReplicaGroup>>;
  /** Replicas whose NAT shard did not fit the outside group's key (the unit's shard count changed since the chain was created): joined as shard count modulo. */
  shardMismatches = 0;
  private readonly members = new Map<number, Member>();
  private readonly leaving = new Map<number, Leaving>();
  /** Totals of replicas that are gone: each end's block slots, and the instance's port counters. */
  private readonly retiredBlocks: Record<Side, Float64Array> = { inside: new Float64Array(VXLAN_PORT_COUNTERS), outside: new Float64Array(VXLAN_PORT_COUNTERS) };
  private readonly retiredPorts = new Float64Array(LOCAL_PORT_COUNTERS);
  /** The highest kernel drop count read per end (sockets that closed take theirs with them). */
  private readonly kernelDrops: Record<Side, number> = { inside: 0, outside: 0 };
  private released = false;

  constructor(
    private readonly settings: Readonly<Record<Side, VxlanPortSettings>>,
    private readonly memory: SharedMemory,
    readonly reason: string,
    nat: NatShards | undefined,
    private readonly classifier?: ClassifierRules,
    /** Member slots of each group (`vxlanReplicaMembers`). */
    private readonly slots = VXLAN_REPLICA_MEMBERS_MAX,
  ) {
    const outsideKey: VxlanGroupKey = nat === undefined ? { by: 'inner-destination' } : natShardKey(nat.from, nat.to, nat.count);
    const allocate = (n: number) => memory.allocate(n);
    const inside = new VxlanReplicaGroup(allocate, { by: 'inner-source' }, slots);
    let outside: VxlanReplicaGroup;
    try {
      outside = new VxlanReplicaGroup(allocate, outsideKey, slots);
    } catch (err) {
      memory.release(inside.area);
      throw err;
    }
    this.groups = { inside, outside };
    this.traceBlock = memory.allocate(INGRESS_TRACE_BYTES);
  }

  reserveMember(): number {
    let m = 0;
    while (this.members.has(m)) m++;
    if (m >= this.slots) throw new FailedPreconditionError(`the chain's VXLAN replica groups have ${this.slots} member slots, all taken`);
    const block = () => new Float64Array(this.memory.allocate(VXLAN_PORT_COUNTERS * 8));
    this.members.set(m, { instance: undefined, blocks: { inside: block(), outside: block() } });
    return m;
  }

  /** Both ends as `vxlan` specs of the one member number (the spec's settings, this member's blocks, its part in each group), the classifier and the trace block. */
  portsFor(member: number): LocalPortsSpec {
    const m = this.members.get(member);
    if (m === undefined) throw new FailedPreconditionError(`VXLAN replica member ${member} was not reserved`);
    const end = (side: Side): LocalVxlanSpec => ({ type: 'vxlan', settings: this.settings[side], counters: m.blocks[side].buffer as SharedArrayBuffer, replicas: this.groups[side].prepare(member) });
    return { inside: end('inside'), outside: end('outside'), trace: this.traceBlock, ...(this.classifier === undefined ? {} : { classifier: this.classifier }) };
  }

  /** Replica `member` is ready: its sockets join both groups (outside with its NAT shard under a port-shard key). */
  bind(member: number, instance: StageInstance): void {
    const m = this.members.get(member);
    if (m === undefined || this.released) return;
    m.instance = instance;
    this.groups.inside.join(member);
    const key = this.groups.outside.key;
    if (key.by !== 'port-shard') this.groups.outside.join(member);
    else {
      const shard = instance.shard ?? 0;
      if (instance.shard === undefined || shard >= key.shards) this.shardMismatches++;
      this.groups.outside.join(member, shard % key.shards);
    }
  }

  cancel(member: number): void {
    const m = this.members.get(member);
    if (m === undefined || m.instance !== undefined) return;
    // Its process may have bound (and logged) before it failed.
    for (const side of SIDES) this.groups[side].leave(member);
    this.releaseBlocks(m);
    this.members.delete(member);
  }

  memberOf(instanceId: string): number | undefined {
    for (const [k, m] of this.members) if (m.instance?.id === instanceId) return k;
    return undefined;
  }

  /**
   * The replica the inside group steers `datagram` (a UDP payload: VXLAN header, then the
   * inner frame) to now: the owner of its bucket; undefined when the kernel's hash picks.
   * A flow stays on the replica that saw it start even after its bucket moves (handoff):
   * ask when the flow opens. For tests and diagnostics, not per packet.
   */
  steeredInside(datagram: Uint8Array): StageInstance | undefined {
    const group = this.groups.inside;
    const slot = steeringSlot(group.steeringKey(), new DataView(datagram.buffer, datagram.byteOffset, datagram.byteLength), 0, datagram.byteLength);
    if (slot < 0 || slot >= STEERING_BUCKETS) return undefined;
    return this.members.get(group.bucketOwners()[slot])?.instance;
  }

  /** Retires the replica in both groups (no new flows reach it); the drain that follows waits on `holds`. */
  async handOff(instanceId: string): Promise<void> {
    const member = this.memberOf(instanceId);
    if (member === undefined || this.released || this.leaving.has(member)) return;
    for (const side of SIDES) {
      try {
        this.groups[side].retire(member);
      } catch {
        // Not in the group any more (its sockets closed): nothing to hand it.
      }
    }
    this.leaving.set(member, { handed: this.handedTo(member), received: this.receivedBy(member), since: performance.now() });
  }

  /** Datagrams the others handed to `member` so far, both ends (free-running counters: compared, never read as totals). */
  private handedTo(member: number): number {
    return this.groups.inside.handedTo(member) + this.groups.outside.handedTo(member);
  }

  /** Datagrams `member`'s own sockets received so far, both ends. */
  private receivedBy(member: number): number {
    const m = this.members.get(member);
    return m === undefined ? 0 : m.blocks.inside[VxlanBlock.RECEIVED] + m.blocks.outside[VxlanBlock.RECEIVED];
  }

  /**
   * A leaving replica holds flows until a window of `VXLAN_DRAIN_QUIET_MS` passed with at
   * most `VXLAN_DRAIN_QUIET_HANDOFFS` datagrams reaching it (handed or received); a busier
   * window starts the next.
   */
  holds(instanceId: string): boolean {
    const member = this.memberOf(instanceId);
    const l = member === undefined ? undefined : this.leaving.get(member);
    if (l === undefined) return false;
    const now = performance.now();
    if (now - l.since < VXLAN_DRAIN_QUIET_MS) return true;
    const handed = this.handedTo(member!);
    const received = this.receivedBy(member!);
    // Handoff counters run free: their difference as 32-bit wraps give it.
    if (((handed - l.handed) >>> 0) + (received - l.received) <= VXLAN_DRAIN_QUIET_HANDOFFS) return false;
    Object.assign(l, { handed, received, since: now });
    return true;
  }

  isLeaving(instanceId: string): boolean {
    const m = this.memberOf(instanceId);
    return m !== undefined && this.leaving.has(m);
  }

  /** Replica `instanceId` stopped or failed: its totals are kept, it leaves both groups, its blocks are given back. */
  gone(instanceId: string): void {
    const member = this.memberOf(instanceId);
    if (member === undefined) return;
    const m = this.members.get(member)!;
    for (const side of SIDES) {
      const b = m.blocks[side];
      const r = this.retiredBlocks[side];
      for (let k = 0; k < VXLAN_PORT_COUNTERS; k++) if (!VXLAN_GAUGES.includes(k)) r[k] += b[k];
    }
    const c = m.instance!.portCounters;
    if (c !== undefined) for (let k = 0; k < LOCAL_PORT_COUNTERS; k++) this.retiredPorts[k] += c[k];
    for (const side of SIDES) this.groups[side].leave(member);
    this.releaseBlocks(m);
    this.members.delete(member);
    this.leaving.delete(member);
  }

  /** Every replica stops taking new flows; resolves once no datagram arrived for 200 ms, or after `timeoutMs`. */
  async closeAll(timeoutMs: number): Promise<void> {
    if (this.released) return;
    for (const inst of [...this.members.values()].map((m) => m.instance)) if (inst !== undefined) await this.handOff(inst.id);
    const received = () => this.sum('inside', VxlanBlock.RECEIVED) + this.sum('outside', VxlanBlock.RECEIVED);
    const deadline = performance.now() + timeoutMs;
    let last = received();
    let quietSince = performance.now();
    while (performance.now() < deadline && performance.now() - quietSince < 200) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const now = received();
      if (now !== last) {
        last = now;
        quietSince = performance.now();
      }
    }
  }

  /** The replicas' ends keep no flow table of their own: the functions hold the flows. */
  openFlows(): number {
    return 0;
  }

  /** Slot `slot` of side `side`'s blocks over the live replicas and, for totals, those gone. */
  sum(side: Side, slot: number): number {
    let n = VXLAN_GAUGES.includes(slot) ? 0 : this.retiredBlocks[side][slot];
    for (const m of this.members.values()) n += m.blocks[side][slot];
    return n;
  }

  /** Instance port counter `slot` (`LocalPortCounter`) over the live replicas and those gone. */
  private portFigure(slot: number): number {
    let n = this.retiredPorts[slot];
    for (const m of this.members.values()) {
      const c = m.instance?.portCounters;
      if (c !== undefined) n += c[slot];
    }
    return n;
  }

  traffic(): EndTraffic {
    return {
      enteredInside: this.portFigure(LocalPortCounter.INSIDE_IN),
      enteredOutside: this.portFigure(LocalPortCounter.OUTSIDE_IN),
      leftInside: this.portFigure(LocalPortCounter.INSIDE_OUT),
      leftOutside: this.portFigure(LocalPortCounter.OUTSIDE_OUT),
    };
  }

  /**
   * One end as a host VXLAN end shows it (`framesIn`, `framesOut`, `datagramsIn`,
   * `datagramsOut`, `drops:<reason>` for each non-zero drop, `drops:classifier` at the
   * inside), and what the replicas add: `misdirected`, `replicas` (sockets in the group),
   * `neighbours`, and when they moved the neighbour sharing figures, frames waiting to be
   * sent and the gateway's ARP / neighbour discovery counters.
   */
  end(side: Side): ReplicaEndView {
    return {
      stats: () => {
        const f = (slot: number) => this.sum(side, slot);
        const out: Record<string, number> = { framesIn: f(VxlanBlock.ENTERED), framesOut: f(VxlanBlock.LEFT), datagramsIn: f(VxlanBlock.RECEIVED), datagramsOut: f(VxlanBlock.SENT) };
        const drops = this.drops(side);
        for (const [reason, n] of Object.entries(drops.port)) if (n > 0) out[`drops:${reason}`] = n;
        for (const [reason, n] of Object.entries(drops.gateway ?? {})) if (n > 0) out[`drops:gateway:${reason}`] = n;
        out.misdirected = f(VxlanBlock.MISDIRECTED);
        out.replicas = this.groups[side].members.length;
        out.neighbours = Math.max(0, ...[...this.members.values()].map((m) => m.blocks[side][VxlanBlock.NEIGHBOURS]));
        // The rest only when they moved (one line per end in `describe`).
        const rest: Array<[string, number]> = [
          ['neighboursAdopted', f(VxlanBlock.NEIGHBOURS_ADOPTED)],
          ['neighboursRejected', f(VxlanBlock.NEIGHBOURS_REJECTED)],
          ['neighbourOverruns', f(VxlanBlock.NEIGHBOUR_OVERRUNS)],
          ['inFlight', f(VxlanBlock.IN_FLIGHT)],
          ...GATEWAY_COUNTER_KEYS.map((k, i): [string, number] => [k, f(GATEWAY_COUNTERS_AT + i)]),
        ];
        for (const [k, v] of rest) if (v !== 0) out[k] = v;
        return out;
      },
      drops: () => this.drops(side),
    };
  }

  /** Every drop of one end by layer, each declared reason present (the kernel's socket drops read here, on the host). */
  private drops(side: Side): EndDrops {
    const port: Record<string, number> = {};
    VXLAN_DROP_NAMES.forEach((name, code) => (port[name] = this.sum(side, VXLAN_DROPS_AT + code)));
    port[VXLAN_DROP_NAMES[VxlanDrop.SOCKET_RCVBUF]] = this.socketDrops(side);
    if (side === 'inside' && this.classifier !== undefined) port[CLASSIFIER_DROP] = this.portFigure(LocalPortCounter.CLASSIFIER_REJECTED);
    const gateway: Record<string, number> = {};
    GATEWAY_DROP_NAMES.forEach((name, code) => (gateway[name] = this.sum(side, GATEWAY_DROPS_AT + code)));
    return { port, gateway };
  }

  /**
   * The kernel's receive-buffer drops over the group's sockets (`/proc/net/udp`, one line
   * per socket of the address and port), never less than read before: a socket that
   * closed takes its count with it.
   */
  private socketDrops(side: Side): number {
    const { address, port } = this.settings[side].listen;
    let text: string;
    try {
      text = readProcNetUdp();
    } catch {
      return this.kernelDrops[side];
    }
    const [header, ...lines] = text.split('\n');
    let n = 0;
    for (const line of lines) n += readUdpSocketDrops(address, port, `${header}\n${line}`) ?? 0;
    this.kernelDrops[side] = Math.max(this.kernelDrops[side], n);
    return this.kernelDrops[side];
  }

  finalFigures(): Record<string, number> {
    return { misdirected: this.sum('inside', VxlanBlock.MISDIRECTED) + this.sum('outside', VxlanBlock.MISDIRECTED) };
  }

  private releaseBlocks(m: Member): void {
    for (const side of SIDES) this.memory.release(m.blocks[side].buffer as SharedArrayBuffer);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    for (const m of this.members.values()) this.releaseBlocks(m);
    this.members.clear();
    for (const side of SIDES) this.memory.release(this.groups[side].area);
    this.memory.release(this.traceBlock);
  }
}

/** `/proc/net/udp` as text (throws where it cannot be read). */
function readProcNetUdp(): string {
  return readFileSync('/proc/net/udp', 'utf8');
}
