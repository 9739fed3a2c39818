import type { StageInstance } from '../dataplane/stage.ts';
import type { LocalPortsSpec } from '../dataplane/ports/local-ports.ts';
import type { EndDrops } from './chain-ends.ts';

/** Frames in and out of each end, as `ChainDataPlane.traffic` counts a host end's. */
export interface EndTraffic {
  readonly enteredInside: number;
  readonly enteredOutside: number;
  readonly leftInside: number;
  readonly leftOutside: number;
}

/** What a chain end run by the replicas shows in place of a host port: its figures and drops. */
export interface ReplicaEndView {
  /** Port-level figures for `describe` (the names a host end of that type gives). */
  stats(): Record<string, number>;
  /** Drops by layer and reason, for `/metrics` (absent for ends that never drop). */
  drops?(): EndDrops;
}

/**
 * A fused chain's ends run by its replicas (`placeEnds` said `replicas`), as its
 * `ChainRuntime` drives them whatever their kind: in-memory clients and servers
 * (`ReplicaEnds`) or VXLAN sockets in a steered group (`ReplicaVxlanEnds`). The runtime
 * reserves a member number before a replica boots, gives it `portsFor(member)`, `bind`s it
 * once ready (`cancel` if the boot failed), and calls `gone` when it stopped or failed.
 * A replica that leaves (scale-in, rolling update) is first handed off (`handOff`), then
 * drained while `holds` says it still has flows no host pin shows.
 *
 * @example
 * ```ts
 * const member = ends.reserveMember();
 * const inst = await dataPlane.addInstance(0, image, { ports: ends.portsFor(member) });
 * ends.bind(member, inst);
 * // leaving:
 * await ends.handOff(inst.id, 3000);
 * await dataPlane.drainInstance(inst.id, 'scale-in', 20_000, () => ends.holds(inst.id));
 * ```
 */
export interface EndsInReplicas {
  /** Why the ends run there (`ChainStatus.ends.reason`). */
  readonly reason: string;
  /** The ingress trace block every replica's ports mark through (`ChainTraces`). */
  readonly traceBlock: SharedArrayBuffer;
  /** A member number for a replica about to boot. */
  reserveMember(): number;
  /** The ports replica `member` opens (each call for a member about to boot). */
  portsFor(member: number): LocalPortsSpec;
  /** Replica `member` booted as `instance` and is ready: it takes its share of the work. */
  bind(member: number, instance: StageInstance): void;
  /** The boot of `member` failed: what was reserved for it is given back. */
  cancel(member: number): void;
  /** Replica `instanceId` is leaving: it takes no new work; resolves when the caller may drain it. */
  handOff(instanceId: string, timeoutMs: number): Promise<void>;
  /** While a leaving replica is drained: it still holds flows no host pin shows. */
  holds(instanceId: string): boolean;
  /** Whether `instanceId` is leaving (not ready for new work any more). */
  isLeaving(instanceId: string): boolean;
  /** Replica `instanceId` stopped or `failed`: its totals are kept, what it held is given back. */
  gone(instanceId: string, failed?: boolean): void;
  /** The chain is being deleted: every replica stops taking work; resolves when they settled or after `timeoutMs`. */
  closeAll(timeoutMs: number): Promise<void>;
  /** Flows the replicas still hold open, as far as their ends know (delete's `flowsLeft`). */
  openFlows(): number;
  /** Frames in and out of each end, over the live replicas and those gone. */
  traffic(): EndTraffic;
  /** One end's figures and drops. */
  end(side: 'inside' | 'outside'): ReplicaEndView;
  /** Totals of the kind for the chain's `deleted` event (moved flows, misdirected datagrams …). */
  finalFigures(): Record<string, number>;
  /** Gives its shared memory back (after the data plane's shutdown). */
  release(): void;
}
