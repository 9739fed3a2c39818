import { InvalidArgumentError } from '../errors/catalog.ts';
import { FLOW_NOT_FOUND, FlowTable, FlowTableStatus } from '../flow/flow-table.ts';
import { MaglevTable, MAGLEV_DEFAULT_TABLE_SIZE } from '../flow/maglev.ts';
import { flowHash } from '../packet/flow-key.ts';

/** Options of a `FlowDispatcher`. */
export interface FlowDispatcherOptions {
  /** Pinned flows the table holds (default 65536). */
  readonly flowCapacity?: number;
  /** Maglev table size, a prime (default 65537). */
  readonly tableSize?: number;
  /** Seed of the symmetric flow hash (default 0). */
  readonly seed?: number;
}

/** Returned by `dispatch` when no instance takes new flows. */
export const NO_INSTANCE = -1;

/**
 * Spreads flows over the instances of one function, in front of them on the host:
 * - **Affinity both ways.** A flow is keyed by its 5-tuple in canonical order (lower
 *   address first, as `flowHash` orders it), so a packet and its reply find the same entry
 *   and the same instance.
 * - **New flows** go to `maglev.lookup(flowHash(tuple))`: consistent hashing over the
 *   instances that take new flows.
 * - **Existing flows are pinned** in a `FlowTable` (tuple → instance), so adding an
 *   instance or draining one moves no existing flow; a drained instance (Maglev weight 0)
 *   gets no new flows and keeps its pinned ones until they are `release`d.
 * - When the flow table is full, a new flow is still dispatched by Maglev but not pinned
 *   (counted in `unpinned`): it stays put unless the membership changes.
 *
 * `dispatch` allocates nothing and never throws; membership changes rebuild the Maglev
 * table (control plane).
 *
 * @example
 * ```ts
 * const d = new FlowDispatcher(['nat-0', 'nat-1']);
 * const i = d.dispatch(src, dst, sport, dport, IpProto.TCP); // instance index
 * d.addInstance('nat-2');     // pinned flows stay where they are
 * d.drainInstance('nat-0');   // no new flows for nat-0
 * ```
 */
export class FlowDispatcher {
  /** Instance names; a dispatch result indexes this list. */
  readonly instances: string[] = [];
  /** Flows pinned on each instance (index as `instances`). */
  readonly pinnedFlows: number[] = [];
  /** Flows seen for the first time. */
  newFlows = 0;
  /** Packets of flows already pinned. */
  pinnedHits = 0;
  /** New flows dispatched without a pin because the flow table was full. */
  unpinned = 0;
  /** Packets refused because every instance is drained. */
  noInstance = 0;
  private readonly weights: number[] = [];
  private readonly table: FlowTable;
  private readonly tableSize: number;
  private readonly seed: number;
  private maglev: MaglevTable | null = null;
  /** The last tuple `findCanonical` looked up, in canonical order (lower endpoint first). */
  private ks = 0;
  private kd = 0;
  private ksp = 0;
  private kdp = 0;

  constructor(instances: readonly string[], options: FlowDispatcherOptions = {}) {
    this.table = new FlowTable(options.flowCapacity ?? 65536, 0x5bd1e995);
    this.tableSize = options.tableSize ?? MAGLEV_DEFAULT_TABLE_SIZE;
    this.seed = options.seed ?? 0;
    for (const name of instances) this.pushInstance(name);
    this.rebuild();
  }

  /** Instance index for a packet of this 5-tuple (either direction), or `NO_INSTANCE`. */
  dispatch(srcIp: number, dstIp: number, srcPort: number, dstPort: number, proto: number): number {
    const slot = this.findCanonical(srcIp, dstIp, srcPort, dstPort, proto);
    const s = this.ks, d = this.kd, sp = this.ksp, dp = this.kdp;
    if (slot !== FLOW_NOT_FOUND) {
      this.pinnedHits++;
      return this.table.value(slot);
    }
    const maglev = this.maglev;
    const at = maglev === null ? NO_INSTANCE : maglev.lookup(flowHash(s, d, sp, dp, proto, this.seed));
    if (at < 0) {
      this.noInstance++;
      return NO_INSTANCE;
    }
    this.newFlows++;
    if (this.table.insert(s, d, sp, dp, proto, at) === FlowTableStatus.FULL) this.unpinned++;
    else this.pinnedFlows[at]++;
    return at;
  }

  /** Forgets a flow (it ended): its next packet is a new flow. Returns whether it was pinned. */
  release(srcIp: number, dstIp: number, srcPort: number, dstPort: number, proto: number): boolean {
    const slot = this.findCanonical(srcIp, dstIp, srcPort, dstPort, proto);
    const s = this.ks, d = this.kd, sp = this.ksp, dp = this.kdp;
    if (slot === FLOW_NOT_FOUND) return false;
    this.pinnedFlows[this.table.value(slot)]--;
    return this.table.delete(s, d, sp, dp, proto);
  }

  /** Adds an instance that takes new flows; returns its index. Pinned flows do not move. */
  addInstance(name: string): number {
    if (this.instances.includes(name)) throw new InvalidArgumentError(`instance "${name}" is already dispatched to`);
    const at = this.pushInstance(name);
    this.rebuild();
    return at;
  }

  /** Stops sending new flows to `name`; its pinned flows stay on it. */
  drainInstance(name: string): void {
    const at = this.instances.indexOf(name);
    if (at < 0) throw new InvalidArgumentError(`no instance named "${name}"`);
    this.weights[at] = 0;
    this.rebuild();
  }

  /** True if `name` takes new flows. */
  isActive(name: string): boolean {
    const at = this.instances.indexOf(name);
    return at >= 0 && this.weights[at] > 0;
  }

  /**
   * Puts the tuple in canonical order (the lower address, then port, first), so both
   * directions of a flow share one flow-table entry; leaves it in `ks/kd/ksp/kdp` and
   * returns its slot or `FLOW_NOT_FOUND`.
   */
  private findCanonical(srcIp: number, dstIp: number, srcPort: number, dstPort: number, proto: number): number {
    const a = srcIp >>> 0;
    const b = dstIp >>> 0;
    const fwd = a < b || (a === b && srcPort <= dstPort);
    this.ks = fwd ? srcIp : dstIp;
    this.kd = fwd ? dstIp : srcIp;
    this.ksp = fwd ? srcPort : dstPort;
    this.kdp = fwd ? dstPort : srcPort;
    return this.table.find(this.ks, this.kd, this.ksp, this.kdp, proto);
  }

  private pushInstance(name: string): number {
    this.instances.push(name);
    this.weights.push(1);
    this.pinnedFlows.push(0);
    return this.instances.length - 1;
  }

  private rebuild(): void {
    // Input order is kept by MaglevTable, so a Maglev backend index is our instance index.
    const active = this.weights.some((w) => w > 0);
    this.maglev = active
      ? MaglevTable.build(
          this.instances.map((name, i) => ({ name, weight: this.weights[i] })),
          { tableSize: this.tableSize },
        )
      : null;
  }
}
