/** Default slots of a started-flow table. */
export const DEFAULT_STARTED_FLOWS = 16384;
/** Slots a record, close or lookup looks at. */
export const PROBE_LIMIT = 16;
/** A closing flow's entry may be replaced this long after its FIN or RST, ms (its last segments have passed). */
export const CLOSING_LINGER_MS = 10_000;
/** An open flow's entry may be replaced this long after its SYN when its probe window is full, ms. */
export const OPEN_MAX_AGE_MS = 600_000;

/**
 * The TCP flows one replica saw start (a SYN without ACK it put into its own chain), so
 * that, for a bucket its VXLAN group moved to it (`VxlanReplicaGroup`), it tells the flows
 * it holds from those its bucket's previous holder still holds (`VxlanReplicaShare.route`).
 *
 * A flow is named by its client's side only, the address (IPv6: its four words folded)
 * and port the group hashes into a bucket: the same on the clients' end (inner source)
 * and the servers' end (inner destination), whatever a load balancer between them did to
 * the server's address. Both ends of a replica share one table (`StartedFlows.ofReplica`).
 *
 * Open addressing with linear probing over `capacity` slots, at most `PROBE_LIMIT` probes,
 * typed arrays only: no allocation per packet. Entries are never removed, only replaced
 * in place (so a probe stops at the first empty slot): a FIN or RST marks a flow closing,
 * and a closing entry older than `CLOSING_LINGER_MS`, or an open one older than
 * `OPEN_MAX_AGE_MS`, is the first to be replaced when a probe window is full. A start that
 * finds no room is counted (`full`): that flow, if its bucket moves later, is taken for
 * the previous holder's.
 *
 * @example
 * ```ts
 * const flows = new StartedFlows();
 * flows.record(clientAddress, clientPort, now);
 * flows.has(clientAddress, clientPort); // true
 * ```
 */
export class StartedFlows {
  /** Flows started and not replaced (gauge). */
  size = 0;
  /** Starts that found no room in their probe window. */
  full = 0;
  private readonly mask: number;
  private readonly address: Int32Array;
  private readonly port: Int32Array;
  /** 0 empty, 1 open, 2 closing. */
  private readonly state: Uint8Array;
  /** When recorded, or when marked closing, ms. */
  private readonly stamp: Float64Array;

  private static readonly tables = new Map<number, StartedFlows>();

  /** The table the ends of replica `member` share in this thread (one replica per thread or process). */
  static ofReplica(member: number): StartedFlows {
    let t = StartedFlows.tables.get(member);
    if (t === undefined) StartedFlows.tables.set(member, (t = new StartedFlows()));
    return t;
  }

  /** `capacity`: slots, a power of two (default 16,384: about 14 k concurrent flows per replica before starts go uncounted). */
  constructor(capacity = DEFAULT_STARTED_FLOWS) {
    if (!Number.isInteger(capacity) || capacity < PROBE_LIMIT || (capacity & (capacity - 1)) !== 0) throw new RangeError(`a started-flow table has a power-of-two capacity ≥ ${PROBE_LIMIT}, not ${capacity}`);
    this.mask = capacity - 1;
    this.address = new Int32Array(capacity);
    this.port = new Int32Array(capacity);
    this.state = new Uint8Array(capacity);
    this.stamp = new Float64Array(capacity);
  }

  private slot(address: number, port: number): number {
    return (Math.imul(address ^ Math.imul(port, 0x85ebca6b), 0x9e3779b1) >>> 12) & this.mask;
  }

  /** A SYN of the flow of client `address` and `port` (IPv6: `| 0x10000` on the port) entered this replica at `now`. */
  record(address: number, port: number, now: number): void {
    address |= 0;
    let s = this.slot(address, port);
    let spare = -1;
    let spareStamp = Infinity;
    for (let i = 0; i < PROBE_LIMIT; i++, s = (s + 1) & this.mask) {
      const st = this.state[s];
      if (st === 0) {
        this.address[s] = address;
        this.port[s] = port;
        this.state[s] = 1;
        this.stamp[s] = now;
        this.size++;
        return;
      }
      if (this.address[s] === address && this.port[s] === port) {
        this.state[s] = 1;
        this.stamp[s] = now;
        return;
      }
      const stale = st === 2 ? now - this.stamp[s] > CLOSING_LINGER_MS : now - this.stamp[s] > OPEN_MAX_AGE_MS;
      if (stale && this.stamp[s] < spareStamp) {
        spare = s;
        spareStamp = this.stamp[s];
      }
    }
    if (spare < 0) {
      this.full++;
      return;
    }
    this.address[spare] = address;
    this.port[spare] = port;
    this.state[spare] = 1;
    this.stamp[spare] = now;
  }

  /** A FIN or RST of the flow passed at `now`: it is closing (still known until replaced). */
  close(address: number, port: number, now: number): void {
    address |= 0;
    let s = this.slot(address, port);
    for (let i = 0; i < PROBE_LIMIT && this.state[s] !== 0; i++, s = (s + 1) & this.mask) {
      if (this.address[s] === address && this.port[s] === port) {
        if (this.state[s] === 1) {
          this.state[s] = 2;
          this.stamp[s] = now;
        }
        return;
      }
    }
  }

  /** Whether this replica saw the flow start (and its entry was not replaced since). */
  has(address: number, port: number): boolean {
    address |= 0;
    let s = this.slot(address, port);
    for (let i = 0; i < PROBE_LIMIT && this.state[s] !== 0; i++, s = (s + 1) & this.mask) {
      if (this.address[s] === address && this.port[s] === port) return true;
    }
    return false;
  }
}
