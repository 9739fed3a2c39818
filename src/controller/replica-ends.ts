import type { SharedMemory } from '../memory/shared-memory.ts';
import type { StageInstance } from '../dataplane/stage.ts';
import type { ClientFlowsSpec } from '../dataplane/ports/client-flows.ts';
import { initShardBlock, NO_MEMBER, publishShardOwners, releaseShardsOf, shardBlockLayout, shardsHeldBy, type ShardBlockLayout } from '../dataplane/ports/client-shard-block.ts';
import { LOCAL_PORT_COUNTERS, LocalPortCounter, type LocalPortsSpec } from '../dataplane/ports/local-ports.ts';
import type { ChainSpec } from '../spec/chain-spec.ts';
import { clientFlowsOf, type GeneratorPortSpec } from '../ports/generator.ts';
import type { ClassifierRules } from '../dataplane/ports/classifier-port.ts';
import { classifierRules } from './chain-ends.ts';
import type { PlacementDecision } from './placement.ts';
import { loadNativeAddon } from '../native/native-addon.ts';
import { INGRESS_TRACE_BYTES } from '../trace/ingress-trace-layout.ts';
import { assignShards, GENERATOR_SHARDS, shardsMoved } from './shard-assignment.ts';
import type { EndsInReplicas, EndTraffic, ReplicaEndView } from './ends-in-replicas.ts';

/** Where a chain's ends run, and why (`ChainStatus.ends`). */
export interface EndsPlacement {
  /** `host`: the controller's thread opens them and carries every frame to and from the instances; `replicas`: each fused replica opens its own. */
  readonly where: 'host' | 'replicas';
  /** One sentence for `describe`. */
  readonly reason: string;
}

/** Egress port types a replica can run itself. */
const REPLICA_EGRESS = ['responder', 'sink'] as const;

/** How long a replica giving up its shards may take to close their flows before it is stopped anyway, ms. */
export const HANDOFF_TIMEOUT_MS = 3000;

/**
 * Decides where a chain's ends run. In the replicas when the chain is fused, the ends have
 * the built-in factories and either both are in-memory (generator ingress whose flows its
 * classifier, if any, admits; responder or sink egress) or both are VXLAN (with the native
 * addon: each replica binds its sockets in a steered SO_REUSEPORT group, the classifier
 * runs there too); on the host otherwise, with the reason. `overridden(type)`: the
 * controller was given its own factory for that type; `native`: the addon is loaded.
 *
 * @example
 * ```ts
 * placeEnds(spec, { placement: 'fused', reason: 'spec.placement: fused' }, () => false).where; // 'replicas' for generator → responder
 * ```
 */
export function placeEnds(spec: ChainSpec, placement: PlacementDecision, overridden: (type: string) => boolean, native = loadNativeAddon().available): EndsPlacement {
  const { ingress, egress, classifier } = spec.spec;
  const pair = `${ingress.type} → ${egress.type}`;
  if (placement.placement !== 'fused') return { where: 'host', reason: 'isolated placement: the host feeds the first stage and takes from the last' };
  const inMemory = ingress.type === 'generator' && (REPLICA_EGRESS as readonly string[]).includes(egress.type);
  const vxlan = ingress.type === 'vxlan' && egress.type === 'vxlan';
  if (!inMemory && !vxlan) {
    return { where: 'host', reason: `${pair}: only generator → responder/sink and vxlan → vxlan ends run in the replicas (pcap and mixed ends keep a host end)` };
  }
  if (overridden(ingress.type) || overridden(egress.type)) return { where: 'host', reason: `${pair}: the controller was given its own end factory` };
  if (vxlan) {
    if (!native) return { where: 'host', reason: `${pair}: VXLAN sockets in the replicas need the native addon (recvmmsg, SO_REUSEPORT steering)` };
    return {
      where: 'replicas',
      reason: `fused chain with VXLAN ends (${pair}): each replica binds both UDP ports in a SO_REUSEPORT group steered by the inner frame (clients by source, replies by NAT port shard or destination); no frame crosses the host`,
    };
  }
  if (classifier !== undefined && !classifierAdmits(classifierRules(classifier), clientFlowsOf(ingress as GeneratorPortSpec))) {
    return { where: 'host', reason: `${pair}: the classifier rejects the generator's flows (counted at the host)` };
  }
  return { where: 'replicas', reason: `fused chain with in-memory ends (${pair}): each replica generates its share of the flows and answers what leaves it; no frame crosses the host` };
}

/** Whether `rules` admit every flow of the generator (one protocol, one service: all or none). */
function classifierAdmits(rules: ClassifierRules, flows: ClientFlowsSpec): boolean {
  if (rules.protocols.length > 0 && !rules.protocols.includes(flows.proto)) return false;
  const v4 = rules.destinations;
  const v6 = rules.destinations6 ?? [];
  if (v4.length + v6.length > 0) {
    const match =
      flows.family === 4
        ? v4.some(([net, mask]) => ((flows.service[0] & mask) >>> 0) === net >>> 0)
        : v6.some(([net, mask]) => net.every((w, k) => ((flows.service[k] & mask[k]) >>> 0) === w >>> 0));
    if (!match) return false;
  }
  return rules.ports.length === 0 || rules.ports.some(([from, to]) => flows.servicePort >= from && flows.servicePort <= to);
}

/** Figures that are levels, not totals: a replica that is gone no longer adds them. */
const GAUGES: readonly number[] = [LocalPortCounter.FLOWS_OPEN, LocalPortCounter.FLOWS_CLOSING, LocalPortCounter.SHARDS_HELD, LocalPortCounter.SHARD_SEQ_SEEN];

/**
 * A fused chain's ends run by its replicas (`placeEnds` said `replicas`): the generator's
 * flows split into shards (`GENERATOR_SHARDS`, at most one per flow) that the controller
 * assigns to the replicas through a shard block in the data plane's shared memory
 * (`client-shard-block.ts`); each replica runs its shards' clients and its own responder
 * or sink (`LocalPortsSpec`). Scaling moves shards with as few moves as can be
 * (`assignShards`); a replica that leaves (scale-in, rolling update, delete) gives up its
 * shards first and closes their flows with FINs through its own chain before it is
 * drained (`handOff`); one that failed has its shards freed for the others. Port figures
 * are the replicas' shared counters, those of replicas that are gone kept in sums.
 *
 * @example
 * ```ts
 * const ends = new ReplicaEnds(spec.spec.ingress, 'responder', dataPlane.memory, placement.reason);
 * const member = ends.reserveMember();
 * const inst = await dataPlane.addInstance(0, image, { ports: ends.portsFor(member) });
 * ends.bind(member, inst);
 * ```
 */
export class ReplicaEnds implements EndsInReplicas {
  readonly shards: number;
  /** Shard moves published so far. */
  moves = 0;
  /** Replicas that did not finish closing their flows within `HANDOFF_TIMEOUT_MS`. */
  handoffTimeouts = 0;
  /** Flows open in replicas that failed (lost with them; their shards' next holders open them anew). */
  flowsLost = 0;
  private readonly flows: ClientFlowsSpec;
  private readonly layout: ShardBlockLayout;
  private readonly block: SharedArrayBuffer;
  /** The ingress trace block every replica's ports mark through (`ChainTraces` starts sessions in it). */
  readonly traceBlock: SharedArrayBuffer;
  private owners: number[];
  private seq = 0;
  /** Member numbers reserved: bound to their instance once booted. */
  private readonly members = new Map<number, StageInstance | undefined>();
  private readonly leaving = new Set<number>();
  /** Totals of the replicas that are gone. */
  private readonly retired = new Float64Array(LOCAL_PORT_COUNTERS);
  private released = false;

  constructor(
    private readonly generator: GeneratorPortSpec,
    private readonly egress: 'responder' | 'sink',
    private readonly memory: SharedMemory,
    readonly reason: string,
  ) {
    this.flows = clientFlowsOf(generator);
    this.shards = Math.min(GENERATOR_SHARDS, this.flows.flows);
    this.layout = shardBlockLayout(this.shards);
    this.block = memory.allocate(this.layout.bytes);
    initShardBlock(this.block, this.layout);
    this.traceBlock = memory.allocate(INGRESS_TRACE_BYTES);
    this.owners = new Array<number>(this.shards).fill(NO_MEMBER);
  }

  /** The egress port type the replicas run. */
  get egressType(): 'responder' | 'sink' {
    return this.egress;
  }

  /** A member number for a replica about to boot (the lowest free). */
  reserveMember(): number {
    let m = 0;
    while (this.members.has(m)) m++;
    this.members.set(m, undefined);
    return m;
  }

  /** The ports replica `member` opens: its share of the clients, its own responder or sink. */
  portsFor(member: number): LocalPortsSpec {
    const total = this.generator.total;
    const rate = this.generator.rate;
    return {
      inside: { type: 'clients', ...this.flows, shards: this.shards, member, block: this.block, ...(total === undefined ? {} : { total }), ...(rate === undefined || rate === 0 ? {} : { rate }) },
      outside: { type: this.egress },
      trace: this.traceBlock,
    };
  }

  /** Replica `member` booted as `instance`: it gets its shards now. */
  bind(member: number, instance: StageInstance): void {
    this.members.set(member, instance);
    this.rebalance();
  }

  /** The boot of `member` failed: its number is free again. */
  cancel(member: number): void {
    if (this.members.get(member) === undefined) this.members.delete(member);
  }

  /** Member number of a bound instance. */
  memberOf(instanceId: string): number | undefined {
    for (const [m, inst] of this.members) if (inst?.id === instanceId) return m;
    return undefined;
  }

  /** Gives the shards to the bound replicas that are active and not leaving (fewest moves); publishes when they change. */
  rebalance(): void {
    if (this.released) return;
    const current: number[] = [];
    for (const [m, inst] of this.members) if (inst !== undefined && inst.state === 'active' && !this.leaving.has(m)) current.push(m);
    this.publish(assignShards(this.owners, current));
  }

  private publish(next: number[]): void {
    const moved = shardsMoved(this.owners, next);
    if (moved === 0) return;
    // A shard given out for the first time is no move.
    for (let s = 0; s < next.length; s++) if (this.owners[s] !== NO_MEMBER && this.owners[s] !== next[s]) this.moves++;
    this.owners = next;
    this.seq = publishShardOwners(this.block, this.layout, next);
  }

  /**
   * Replica `instanceId` is leaving: its shards go to the others, and this resolves once it
   * applied that, freed them and saw its FINs answered (or after `timeoutMs`; then its
   * shards are freed for it and `handoffTimeouts` counts it). The caller drains it then.
   */
  async handOff(instanceId: string, timeoutMs = HANDOFF_TIMEOUT_MS): Promise<void> {
    const member = this.memberOf(instanceId);
    if (member === undefined || this.released) return;
    this.leaving.add(member);
    this.rebalance();
    const inst = this.members.get(member)!;
    const deadline = performance.now() + timeoutMs;
    while (!this.settled(member, inst)) {
      if (performance.now() > deadline || inst.state === 'gone') {
        this.handoffTimeouts += inst.state === 'gone' ? 0 : 1;
        releaseShardsOf(this.block, this.layout, member);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** `member` applied the latest owners, holds no shard and has no FIN unanswered. */
  private settled(member: number, inst: StageInstance): boolean {
    const c = inst.portCounters;
    if (c === undefined) return true;
    return c[LocalPortCounter.SHARD_SEQ_SEEN] >= this.seq && c[LocalPortCounter.FLOWS_CLOSING] <= 0 && shardsHeldBy(this.block, this.layout, member) === 0;
  }

  /** Once handed off, a replica's flows are closed: nothing holds its drain. */
  holds(): boolean {
    return false;
  }

  /** Whether the controller is handing `instanceId`'s shards over (it is not ready for new work any more). */
  isLeaving(instanceId: string): boolean {
    const m = this.memberOf(instanceId);
    return m !== undefined && this.leaving.has(m);
  }

  /**
   * Replica `instanceId` stopped or `failed`: its totals are kept, its shards freed for the
   * others, which take them at once (and open their flows anew). The flows a failed replica
   * still had open were lost with it: `flowsLostWithReplica` counts them.
   */
  gone(instanceId: string, failed = false): void {
    const member = this.memberOf(instanceId);
    if (member === undefined) return;
    const c = this.members.get(member)!.portCounters;
    if (c !== undefined) for (let k = 0; k < LOCAL_PORT_COUNTERS; k++) if (!GAUGES.includes(k)) this.retired[k] += c[k];
    if (c !== undefined && failed) this.flowsLost += Math.max(0, c[LocalPortCounter.FLOWS_OPEN] + c[LocalPortCounter.FLOWS_CLOSING]);
    this.members.delete(member);
    this.leaving.delete(member);
    releaseShardsOf(this.block, this.layout, member);
    this.rebalance();
  }

  /** The chain is being deleted: every replica gives up its shards and closes its flows; resolves when they did or after `timeoutMs`. */
  async closeAll(timeoutMs: number): Promise<void> {
    if (this.released) return;
    for (const m of this.members.keys()) this.leaving.add(m);
    this.rebalance();
    const deadline = performance.now() + timeoutMs;
    const bound = () => [...this.members].filter((e): e is [number, StageInstance] => e[1] !== undefined && e[1].state !== 'gone');
    while (bound().some(([m, inst]) => !this.settled(m, inst)) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  /** Figure `slot` (`LocalPortCounter`) over the live replicas and, for totals, those gone. */
  figure(slot: number): number {
    let n = GAUGES.includes(slot) ? 0 : this.retired[slot];
    // A stopped replica's counters stay readable until `gone` moves them into the sums.
    for (const inst of this.members.values()) {
      const c = inst?.portCounters;
      if (c !== undefined && !(inst!.state === 'gone' && GAUGES.includes(slot))) n += c[slot];
    }
    return n;
  }

  /** Flows the clients still have open or closing. */
  openFlows(): number {
    return this.figure(LocalPortCounter.FLOWS_OPEN) + this.figure(LocalPortCounter.FLOWS_CLOSING);
  }

  /** Flows moved between replicas, for the `deleted` event. */
  finalFigures(): Record<string, number> {
    return { flowsMovedOut: this.figure(LocalPortCounter.FLOWS_MOVED_OUT), flowsMovedIn: this.figure(LocalPortCounter.FLOWS_MOVED_IN) };
  }

  /** The clients' end (`insideStats`) or the servers' (`outsideStats`); in-memory ends never drop. */
  end(side: 'inside' | 'outside'): ReplicaEndView {
    return { stats: () => (side === 'inside' ? this.insideStats() : this.outsideStats()) };
  }

  /** Frames in and out of each end, as `ChainDataPlane.traffic` counts a host end's. */
  traffic(): EndTraffic {
    return {
      enteredInside: this.figure(LocalPortCounter.INSIDE_IN),
      enteredOutside: this.figure(LocalPortCounter.OUTSIDE_IN),
      leftInside: this.figure(LocalPortCounter.INSIDE_OUT),
      leftOutside: this.figure(LocalPortCounter.OUTSIDE_OUT),
    };
  }

  /** The generator end's figures (what a host generator's `stats()` says, and the shards and moves). */
  insideStats(): Record<string, number> {
    const f = (slot: number) => this.figure(slot);
    return {
      framesIn: f(LocalPortCounter.INSIDE_IN),
      framesBack: f(LocalPortCounter.INSIDE_OUT),
      shards: this.shards,
      shardMoves: this.moves,
      flowsOpen: f(LocalPortCounter.FLOWS_OPEN),
      flowsOpened: f(LocalPortCounter.FLOWS_OPENED),
      flowsClosed: f(LocalPortCounter.FLOWS_CLOSED),
      flowsMovedOut: f(LocalPortCounter.FLOWS_MOVED_OUT),
      flowsMovedIn: f(LocalPortCounter.FLOWS_MOVED_IN),
      openTimeouts: f(LocalPortCounter.OPEN_TIMEOUTS),
      closeTimeouts: f(LocalPortCounter.CLOSE_TIMEOUTS),
      staleReplies: f(LocalPortCounter.STALE_REPLIES),
      blockRejected: f(LocalPortCounter.BLOCK_REJECTED),
      handoffTimeouts: this.handoffTimeouts,
      flowsLostWithReplica: this.flowsLost,
    };
  }

  /** The responder's or sink's figures. */
  outsideStats(): Record<string, number> {
    const out: Record<string, number> = { framesOut: this.figure(LocalPortCounter.OUTSIDE_OUT) };
    if (this.egress === 'responder') {
      out.framesBack = this.figure(LocalPortCounter.OUTSIDE_IN);
      out.synAcks = this.figure(LocalPortCounter.SYN_ACKS);
      out.finAcks = this.figure(LocalPortCounter.FIN_ACKS);
    }
    return out;
  }

  /** Gives the shard block back (after the data plane's shutdown). */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.memory.release(this.block);
    this.memory.release(this.traceBlock);
  }
}
