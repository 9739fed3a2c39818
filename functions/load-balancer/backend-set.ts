import { InvalidArgumentError } from '../../src/errors/catalog.ts';
import { maglevEntries } from '../../src/flow/maglev.ts';
import type { FlowKey6 } from '../../src/packet/flow-key-ipv6.ts';
import { EndpointTable } from './endpoint-table.ts';
import { BackendState, CONTROL_BACKEND_COUNT, CONTROL_GENERATION, CONTROL_STATES, controlLength } from './backend-state.ts';
import type { LbPlan } from './service-plan.ts';

/**
 * The load balancer's data-plane tables, built from a baked {@link LbPlan} when an
 * instance starts: backend addresses (IPv4 in `address`, IPv6 in `address6`: each backend
 * has its service's family), ports and states by global backend index; the VIP table
 * (endpoint → service, both families); the backend-endpoint table (to recognise server
 * replies whose connection is unknown); and ONE flat Maglev array in which service `s` owns
 * slots `[s·M, (s+1)·M)`, each holding a global backend index of that service, so of its
 * family (−1: no backend can take new flows).
 *
 * Draining and removed backends get weight 0 in their service's Maglev table, so new flows
 * never reach them while the other backends keep their slots (Maglev's minimal disruption).
 *
 * If the host passes a control array ({@link BackendControl}), {@link poll} (once per batch)
 * applies state changes: it rebuilds the Maglev table of each service whose set of active
 * backends changed, IN PLACE, so the arrays the batch loop holds stay valid.
 *
 * @example
 * ```ts
 * const set = new BackendSet(plan, rt.control);
 * const s = set.vips.find(6, dstIp, dstPort);
 * const b = set.maglev[s * set.tableSize + (flowHash(...) % set.tableSize)];
 * ```
 */
export class BackendSet {
  /** Maglev table size M. */
  readonly tableSize: number;
  /** Backend IPv4 address by global backend index (0 for an IPv6 backend). */
  readonly address: Uint32Array;
  /** Backend IPv6 address words at `[4b, 4b + 4)` (int32, most significant first; 0 for an IPv4 backend). */
  readonly address6: Int32Array;
  /** The VIP of an IPv6 backend's service at `[4b, 4b + 4)`: what its replies get back as source. */
  readonly vip6: Int32Array;
  /** Backend port by global backend index. */
  readonly port: Uint16Array;
  /** {@link BackendState} by global backend index. */
  readonly state: Uint8Array;
  /** Service s's Maglev slots at `[s·M, (s+1)·M)`: global backend index or −1. */
  readonly maglev: Int32Array;
  /** (proto, VIP, port) → service index. */
  readonly vips: EndpointTable;
  /** (proto, backend address, backend port) → global index of one backend with that endpoint. */
  readonly servers: EndpointTable;
  /** Maglev rebuilds done after creation (control attached or changed). */
  rebuilds = 0;

  private readonly plan: LbPlan;
  private control: Int32Array | null = null;
  private generation = 0;

  /**
   * @param plan the baked plan
   * @param control optional shared control array (see {@link BackendControl}); its states
   *   override the plan's from the start
   */
  constructor(plan: LbPlan, control?: unknown) {
    const n = plan.backends.length;
    this.plan = plan;
    this.tableSize = plan.tableSize;
    this.address = new Uint32Array(n);
    this.address6 = new Int32Array(n * 4);
    this.vip6 = new Int32Array(n * 4);
    this.port = new Uint16Array(n);
    this.state = new Uint8Array(n);
    this.vips = new EndpointTable(plan.services.length);
    plan.services.forEach((s, i) => addEndpoint(this.vips, s.proto, s.vip, s.port, i));
    this.servers = new EndpointTable(n);
    plan.backends.forEach((b, i) => {
      const a = b.address;
      if (a.length === 4) {
        this.address6.set(a, i * 4);
        this.vip6.set(plan.services[b.service].vip, i * 4);
      } else this.address[i] = a[0];
      this.port[i] = b.port;
      this.state[i] = b.state;
      addEndpoint(this.servers, plan.services[b.service].proto, a, b.port, i);
    });
    this.maglev = new Int32Array(plan.services.length * plan.tableSize);

    if (control !== undefined && control !== null) this.takeControl(control);
    for (let s = 0; s < plan.services.length; s++) this.rebuild(s);
  }

  /**
   * Starts reading a control array after creation (a pipeline built ahead in a warm
   * isolate gets its array at boot): its states override the current ones at once, and
   * the Maglev table of each service whose set of active backends they change is rebuilt
   * (counted in `rebuilds`; the others keep theirs: a rebuild of 65537 slots is tens of
   * milliseconds on a boot's path). Control plane; call before the first batch.
   */
  attachControl(control: unknown): void {
    const before = this.state.slice();
    this.takeControl(control);
    const services = this.plan.services;
    for (let s = 0; s < services.length; s++) {
      for (let b = services[s].first; b < services[s].first + services[s].count; b++) {
        if ((before[b] === BackendState.ACTIVE) === (this.state[b] === BackendState.ACTIVE)) continue;
        this.rebuild(s);
        this.rebuilds++;
        break;
      }
    }
  }

  private takeControl(control: unknown): void {
    const n = this.plan.backends.length;
    if (!(control instanceof Int32Array) || control.length < controlLength(n) || control[CONTROL_BACKEND_COUNT] !== n) {
      throw new InvalidArgumentError(`load-balancer control must be an Int32Array made for ${n} backends (BackendControl)`);
    }
    this.control = control;
    this.generation = Atomics.load(control, CONTROL_GENERATION);
    for (let b = 0; b < n; b++) this.state[b] = Atomics.load(control, CONTROL_STATES + b);
  }

  /**
   * Fills `reply` with the reply tuple of a new IPv6 connection of `client` (its original
   * tuple, client → VIP) balanced to IPv6 backend `b`: backend:port → client. Per new
   * connection; no allocation.
   */
  replyKey6(b: number, client: FlowKey6, reply: FlowKey6): void {
    const a = this.address6;
    const at = b << 2;
    reply.s0 = a[at];
    reply.s1 = a[at + 1];
    reply.s2 = a[at + 2];
    reply.s3 = a[at + 3];
    reply.d0 = client.s0;
    reply.d1 = client.s1;
    reply.d2 = client.s2;
    reply.d3 = client.s3;
    reply.srcPort = this.port[b];
    reply.dstPort = client.srcPort;
    reply.proto = client.proto;
  }

  /**
   * Applies pending control changes (cheap when there are none: one atomic load). Returns
   * true if anything changed. Call between batches.
   */
  poll(): boolean {
    const control = this.control;
    if (control === null) return false;
    const gen = Atomics.load(control, CONTROL_GENERATION);
    if (gen === this.generation) return false;
    this.generation = gen;
    const services = this.plan.services;
    for (let s = 0; s < services.length; s++) {
      let changed = false;
      for (let b = services[s].first; b < services[s].first + services[s].count; b++) {
        const next = Atomics.load(control, CONTROL_STATES + b);
        if (next === this.state[b]) continue;
        if ((next === BackendState.ACTIVE) !== (this.state[b] === BackendState.ACTIVE)) changed = true;
        this.state[b] = next;
      }
      if (changed) {
        this.rebuild(s);
        this.rebuilds++;
      }
    }
    return true;
  }

  /** Rebuilds service `s`'s Maglev slots from the current states (allocates: control plane). */
  private rebuild(s: number): void {
    const svc = this.plan.services[s];
    const list = [];
    for (let b = svc.first; b < svc.first + svc.count; b++) {
      const be = this.plan.backends[b];
      list.push({ name: be.name, weight: this.state[b] === BackendState.ACTIVE ? be.weight : 0 });
    }
    const entries = maglevEntries(list, this.tableSize);
    const base = s * this.tableSize;
    for (let i = 0; i < entries.length; i++) this.maglev[base + i] = entries[i] < 0 ? -1 : svc.first + entries[i];
  }
}

/** Adds an endpoint given as plan words (one for IPv4, four for IPv6). */
function addEndpoint(table: EndpointTable, proto: number, a: readonly number[], port: number, value: number): void {
  if (a.length === 4) table.add6(proto, a[0], a[1], a[2], a[3], port, value);
  else table.add(proto, a[0], port, value);
}
