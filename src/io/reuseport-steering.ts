import { InvalidArgumentError } from '../errors/catalog.ts';

/**
 * Steering of a SO_REUSEPORT group by the frame a datagram carries.
 *
 * Several sockets bound to one UDP port (one per replica) form a reuseport group; by
 * default the kernel picks a socket by a hash of the outer 4-tuple. A classic BPF program
 * attached to the group (`NativeAddon.udpSteer`) picks it instead from the inner IPv4
 * frame of each VXLAN datagram, so every datagram of a flow, both directions, reaches the
 * replica that holds the flow's state — without passing through any other thread:
 *
 * - `inner-source`: a hash of the inner source address and port (frames entering from the
 *   clients' side);
 * - `inner-destination`: the same hash of the destination (replies coming back to a chain
 *   that did not translate the client's address: they are addressed to the client);
 * - `port-shard`: the inner destination port (or ICMP echo identifier) names a shard of a
 *   translated port range, and each shard a socket (replies to a NAT whose replicas each
 *   allocate from their own shard).
 *
 * Inner IPv6 frames are keyed too, by the same hash over the four words of the address
 * folded into one (XOR) and the port (TCP, UDP, ICMPv6 echo identifier; 0 behind an
 * extension header or for other protocols); under a `port-shard` key an IPv6 frame is
 * keyed by its destination, as `inner-destination` would (a NAT passes IPv6
 * untranslated). Frames that are neither (ARP, VLAN-tagged) and `port-shard` keys outside
 * the range get an index past the group, which makes the kernel fall back to its hash. A
 * datagram too short for a load makes the program end with 0 (the group's first socket).
 * Fragments are keyed without ports, as `LinkFlowTable` keys them. Socket indexes are the
 * order in which the sockets joined the group; when one leaves, the kernel moves the last
 * into its place, so the owner attaches a new program whenever the group changes.
 *
 * **Buckets.** The hash picks one of `STEERING_BUCKETS` buckets (the top 8 bits of the
 * multiplicative hash), and a bucket its socket: by default `bucket mod sockets`; with a
 * table (`buckets`, the socket of each bucket) the program maps each bucket through a
 * binary jump tree over the table's runs of equal socket (at most 3 instructions per run),
 * so a group whose membership changes moves only the buckets its owner reassigns
 * (`VxlanReplicaGroup`), not most flows as a hash modulo the group size would.
 *
 * `steeringSlot` computes, in TypeScript, the bucket or shard the program keys a datagram
 * by, and `steeredSocket` the index the program returns: the model the kernel tests check
 * the program against, and what a data plane uses to know where a flow's datagrams arrive.
 *
 * @example
 * ```ts
 * const program = steeringProgram({ by: 'inner-source' }, replicas.length);
 * addon.udpSteer(firstSocketOfTheGroup, program);
 * ```
 */

/** What a reuseport group steers by; see the module documentation. */
export type SteeringKey =
  | { readonly by: 'inner-source'; readonly buckets?: SteeringBuckets }
  | { readonly by: 'inner-destination'; readonly buckets?: SteeringBuckets }
  | {
      readonly by: 'port-shard';
      /** The socket of each bucket of hashed frames (IPv6: keyed by destination). */
      readonly buckets?: SteeringBuckets;
      /** First port of shard 0. */
      readonly base: number;
      /** Ports per shard. */
      readonly shardSize: number;
      /** The socket index of each shard (`sockets[s]` receives shard `s`). */
      readonly sockets: readonly number[];
    };

/** Bytes of the VXLAN header before the inner frame (RFC 7348). */
export const VXLAN_INNER_OFFSET = 8;

/** Index the program returns for a frame it does not steer: past any group, so the kernel hashes. */
export const KERNEL_HASH = 0xffffffff;

/** Most sockets a group may steer among. */
export const MAX_STEERED_SOCKETS = 256;

/** Buckets a hashed frame falls into (the top 8 bits of the hash). */
export const STEERING_BUCKETS = 256;

/** The socket index of each of the `STEERING_BUCKETS` buckets (`buckets[b]` receives bucket `b`). */
export type SteeringBuckets = ArrayLike<number>;

/** `steeringSlot` of a datagram too short for one of the program's loads (the program returns socket 0). */
export const SLOT_SHORT = -1;
/** `steeringSlot` of a frame the program leaves to the kernel's hash. */
export const SLOT_KERNEL = -2;
/** `steeringSlot` of a port-shard frame is `SLOT_SHARD + shard`; below it, slots are buckets. */
export const SLOT_SHARD = STEERING_BUCKETS;

const HASH_MULTIPLIER = 0x9e3779b1;

/** The bucket of a key word (address ^ port; IPv6: the address's words folded ^ port): the top 8 bits of its multiplicative hash, as the program computes it. */
export function steeringBucket(keyWord: number): number {
  return Math.imul(keyWord, HASH_MULTIPLIER) >>> 24;
}

/** Offsets in the datagram's payload (VXLAN header first). */
const ETHERTYPE = VXLAN_INNER_OFFSET + 12;
const IP = VXLAN_INNER_OFFSET + 14;
const IP_FRAGMENT = IP + 6;
const IP_PROTO = IP + 9;
const IP_SRC = IP + 12;
const IP_DST = IP + 16;
const IP6_NEXT = IP + 6;
const IP6_SRC = IP + 8;
const IP6_DST = IP + 24;
const IP6_L4 = IP + 40;

/** `steeringSlot` for an inner IPv6 frame (ethertype checked). */
function slotIpv6(key: SteeringKey, view: DataView, off: number, len: number): number {
  // Every load past the datagram ends the program with 0, whichever comes first.
  if (IP6_NEXT + 1 > len) return SLOT_SHORT;
  const destination = key.by !== 'inner-source';
  const next = view.getUint8(off + IP6_NEXT);
  let port = 0;
  if (next === 6 || next === 17) {
    const at = IP6_L4 + (destination ? 2 : 0);
    if (at + 2 > len) return SLOT_SHORT;
    port = view.getUint16(off + at);
  } else if (next === 58) {
    if (IP6_L4 + 1 > len) return SLOT_SHORT;
    const type = view.getUint8(off + IP6_L4);
    if (type === 128 || type === 129) {
      if (IP6_L4 + 6 > len) return SLOT_SHORT;
      port = view.getUint16(off + IP6_L4 + 4);
    }
  }
  const at = destination ? IP6_DST : IP6_SRC;
  if (at + 16 > len) return SLOT_SHORT;
  const folded = view.getInt32(off + at) ^ view.getInt32(off + at + 4) ^ view.getInt32(off + at + 8) ^ view.getInt32(off + at + 12);
  return steeringBucket(folded ^ port);
}

/**
 * What the program for `key` keys the datagram payload at `off` (`len` bytes) of `view`
 * by: its bucket (0 … `STEERING_BUCKETS` − 1) for a hashed frame, `SLOT_SHARD + shard` for
 * a port-shard frame inside the key's shards, `SLOT_SHORT` when a load falls past the
 * datagram (the program returns socket 0), `SLOT_KERNEL` when it leaves the choice to the
 * kernel. Allocation-free: a data plane calls it per datagram.
 */
export function steeringSlot(key: SteeringKey, view: DataView, off: number, len: number): number {
  // The program's loads in its order: one past the datagram ends it with 0.
  if (ETHERTYPE + 2 > len) return SLOT_SHORT;
  const ethertype = view.getUint16(off + ETHERTYPE);
  if (ethertype === 0x86dd) return slotIpv6(key, view, off, len);
  if (ethertype !== 0x0800) return SLOT_KERNEL;
  if (IP_FRAGMENT + 2 > len) return SLOT_SHORT;
  const destination = key.by !== 'inner-source';
  let port = -1;
  if ((view.getUint16(off + IP_FRAGMENT) & 0x3fff) === 0) {
    if (IP_PROTO + 1 > len) return SLOT_SHORT;
    const proto = view.getUint8(off + IP_PROTO);
    const l4 = IP + ((view.getUint8(off + IP) & 0x0f) << 2);
    if (proto === 6 || proto === 17) {
      const at = l4 + (destination ? 2 : 0);
      if (at + 2 > len) return SLOT_SHORT;
      port = view.getUint16(off + at);
    } else if (proto === 1) {
      if (l4 + 1 > len) return SLOT_SHORT;
      const type = view.getUint8(off + l4);
      if (type === 0 || type === 8) {
        if (l4 + 6 > len) return SLOT_SHORT;
        port = view.getUint16(off + l4 + 4);
      }
    }
  }
  if (key.by === 'port-shard') {
    if (port < key.base) return SLOT_KERNEL;
    const shard = Math.floor((port - key.base) / key.shardSize);
    return shard < key.sockets.length ? SLOT_SHARD + shard : SLOT_KERNEL;
  }
  const at = destination ? IP_DST : IP_SRC;
  if (at + 4 > len) return SLOT_SHORT;
  return steeringBucket(view.getInt32(off + at) ^ (port < 0 ? 0 : port));
}

/**
 * The socket index (0 … `sockets` − 1) the program for `key` picks for the datagram payload
 * at `off` (`len` bytes) of `view`, or `KERNEL_HASH` when it leaves the choice to the kernel.
 */
export function steeredSocket(key: SteeringKey, sockets: number, view: DataView, off: number, len: number): number {
  const slot = steeringSlot(key, view, off, len);
  if (slot === SLOT_SHORT) return 0;
  if (slot === SLOT_KERNEL) return KERNEL_HASH;
  if (slot >= SLOT_SHARD) return (key as { readonly sockets: readonly number[] }).sockets[slot - SLOT_SHARD];
  return key.buckets === undefined ? slot % sockets : key.buckets[slot];
}

// Classic BPF (linux/filter.h).
const LD = 0x00;
const LDX = 0x01;
const ALU = 0x04;
const JMP = 0x05;
const RET = 0x06;
const MISC = 0x07;
const W = 0x00;
const H = 0x08;
const B = 0x10;
const ABS = 0x20;
const IND = 0x40;
const MSH = 0xa0;
const K = 0x00;
const X = 0x08;
const A = 0x10;
const ST = 0x02;
const MEM = 0x60;
const IMM = 0x00;
const SUB = 0x10;
const MUL = 0x20;
const DIV = 0x30;
const RSH = 0x70;
const MOD = 0x90;
const XOR = 0xa0;
const JA = 0x00;
const JEQ = 0x10;
const JGE = 0x30;
const JSET = 0x40;
const TAX = 0x00;

/** One instruction before assembly: jumps name labels. */
interface Insn {
  readonly code: number;
  readonly k: number;
  readonly jt?: string;
  readonly jf?: string;
  /** Target of an unconditional jump. */
  readonly ja?: string;
}

/** A tiny assembler: instructions and labels in order, jumps resolved forward. */
class Assembler {
  private readonly insns: Insn[] = [];
  private readonly labels = new Map<string, number>();

  op(code: number, k = 0): this {
    this.insns.push({ code, k });
    return this;
  }

  jump(code: number, k: number, jt: string, jf: string): this {
    this.insns.push({ code, k, jt, jf });
    return this;
  }

  goto(label: string): this {
    this.insns.push({ code: JMP | JA | K, k: 0, ja: label });
    return this;
  }

  label(name: string): this {
    this.labels.set(name, this.insns.length);
    return this;
  }

  /** Two words per instruction (`code | jt << 16 | jf << 24`, `k`), for `udpSteer`. */
  assemble(): Uint32Array {
    const out = new Uint32Array(this.insns.length * 2);
    const offset = (from: number, label: string | undefined, max: number): number => {
      if (label === undefined) return 0;
      const to = this.labels.get(label);
      if (to === undefined || to <= from || to - from - 1 > max) throw new InvalidArgumentError(`steering program: bad jump to '${label}'`);
      return to - from - 1;
    };
    this.insns.forEach((insn, i) => {
      const jt = offset(i, insn.jt, 0xff);
      const jf = offset(i, insn.jf, 0xff);
      out[i * 2] = (insn.code | (jt << 16) | (jf << 24)) >>> 0;
      out[i * 2 + 1] = insn.ja !== undefined ? offset(i, insn.ja, 0xffffffff) : insn.k >>> 0;
    });
    return out;
  }
}

/** Runs of equal socket in a bucket table: `[first bucket, socket]` pairs, in bucket order. */
function bucketRuns(buckets: SteeringBuckets): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  for (let b = 0; b < STEERING_BUCKETS; b++) if (runs.length === 0 || runs[runs.length - 1][1] !== buckets[b]) runs.push([b, buckets[b]]);
  return runs;
}

/**
 * Emits A = bucket → return its socket: a binary tree of `jge` over the runs' first
 * buckets. Each test jumps to the very next instruction (an unconditional jump, whose
 * offset is 32 bits, to the upper half) or skips it (the lower half follows), so no
 * conditional jump is ever longer than one instruction, however large the tree.
 */
function bucketTree(a: Assembler, runs: ReadonlyArray<readonly [number, number]>, lo: number, hi: number, name: string): void {
  if (lo === hi) {
    a.op(RET | K, runs[lo][1]);
    return;
  }
  const mid = (lo + hi + 1) >> 1;
  a.jump(JMP | JGE | K, runs[mid][0], `${name}u`, `${name}l`).label(`${name}u`).goto(`${name}h`).label(`${name}l`);
  bucketTree(a, runs, lo, mid - 1, `${name}0`);
  a.label(`${name}h`);
  bucketTree(a, runs, mid, hi, `${name}1`);
}

/**
 * The classic BPF program that steers a group of `sockets` sockets by `key` (see the
 * module documentation); `steeredSocket` is its model. A key without a bucket table steers
 * bucket `b` to socket `b mod sockets`; with one, at most 3 instructions per run of equal
 * socket in it (766 for a table whose every bucket differs from the next), well within
 * the kernel's 4,096.
 *
 * @throws InvalidArgumentError for a socket count outside 1…`MAX_STEERED_SOCKETS`, a
 *   `port-shard` key whose range or socket indexes do not fit, or a bucket table that is
 *   not `STEERING_BUCKETS` socket indexes below `sockets`
 */
export function steeringProgram(key: SteeringKey, sockets: number): Uint32Array {
  if (!Number.isInteger(sockets) || sockets < 1 || sockets > MAX_STEERED_SOCKETS) {
    throw new InvalidArgumentError(`a steered group has 1..${MAX_STEERED_SOCKETS} sockets, got ${sockets}`);
  }
  if (key.by === 'port-shard') {
    const { base, shardSize, sockets: map } = key;
    const ok = Number.isInteger(base) && base >= 0 && base <= 0xffff && Number.isInteger(shardSize) && shardSize >= 1 && map.length >= 1 && map.length <= MAX_STEERED_SOCKETS;
    if (!ok || map.some((s) => !Number.isInteger(s) || s < 0 || s >= sockets)) {
      throw new InvalidArgumentError(`port-shard steering needs a base port, a shard size ≥ 1 and a socket index below ${sockets} for each of 1..${MAX_STEERED_SOCKETS} shards`);
    }
  }
  const buckets = key.buckets;
  if (buckets !== undefined) {
    let ok = buckets.length === STEERING_BUCKETS;
    for (let b = 0; ok && b < STEERING_BUCKETS; b++) ok = Number.isInteger(buckets[b]) && buckets[b] >= 0 && buckets[b] < sockets;
    if (!ok) throw new InvalidArgumentError(`a bucket table has ${STEERING_BUCKETS} socket indexes below ${sockets}`);
  }
  const destination = key.by !== 'inner-source';
  const a = new Assembler()
    .op(LD | H | ABS, ETHERTYPE)
    .jump(JMP | JEQ | K, 0x0800, 'ipv4', 'not4')
    .label('not4')
    .jump(JMP | JEQ | K, 0x86dd, 'ipv6', 'other')
    .label('other')
    .op(RET | K, KERNEL_HASH)
    // IPv6: M[0] = the port (0 when unkeyed), then the address folded (XOR of its four words).
    .label('ipv6')
    .op(LD | B | ABS, IP6_NEXT)
    .jump(JMP | JEQ | K, 6, 'ports6', 'udp6')
    .label('udp6')
    .jump(JMP | JEQ | K, 17, 'ports6', 'icmp6')
    .label('icmp6')
    .jump(JMP | JEQ | K, 58, 'echo6', 'unkeyed6')
    .label('echo6')
    .op(LD | B | ABS, IP6_L4)
    .jump(JMP | JEQ | K, 128, 'id6', 'reply6')
    .label('reply6')
    .jump(JMP | JEQ | K, 129, 'id6', 'unkeyed6')
    .label('id6')
    .op(LD | H | ABS, IP6_L4 + 4)
    .goto('keyed6')
    .label('unkeyed6')
    .op(LD | W | IMM, 0)
    .goto('keyed6')
    .label('ports6')
    .op(LD | H | ABS, IP6_L4 + (destination ? 2 : 0))
    .label('keyed6')
    .op(ST, 0);
  const addr6 = destination ? IP6_DST : IP6_SRC;
  a.op(LD | W | ABS, addr6).op(ST, 1);
  for (const k of [4, 8]) a.op(LD | W | ABS, addr6 + k).op(LDX | W | MEM, 1).op(ALU | XOR | X).op(ST, 1);
  a.op(LD | W | ABS, addr6 + 12)
    .op(LDX | W | MEM, 1)
    .op(ALU | XOR | X)
    .op(LDX | W | MEM, 0)
    .op(ALU | XOR | X)
    .goto('mix')
    .label('ipv4')
    .op(LD | H | ABS, IP_FRAGMENT)
    .jump(JMP | JSET | K, 0x3fff, 'unkeyed', 'proto')
    .label('proto')
    .op(LD | B | ABS, IP_PROTO)
    .jump(JMP | JEQ | K, 6, 'ports', 'udp')
    .label('udp')
    .jump(JMP | JEQ | K, 17, 'ports', 'icmp')
    .label('icmp')
    .jump(JMP | JEQ | K, 1, 'echo', 'unkeyed')
    .label('echo')
    .op(LDX | B | MSH, IP)
    .op(LD | B | IND, IP)
    .jump(JMP | JEQ | K, 0, 'id', 'request')
    .label('request')
    .jump(JMP | JEQ | K, 8, 'id', 'unkeyed')
    .label('id')
    .op(LD | H | IND, IP + 4)
    .goto('keyed')
    .label('unkeyed');
  // Every conditional jump stays forward and short: the unkeyed case sits before the ports are read.
  if (key.by === 'port-shard') a.op(RET | K, KERNEL_HASH);
  else a.op(LDX | W, 0).goto('addr4'); // X = 0 (ldx #0): hash the address alone
  a.label('ports')
    .op(LDX | B | MSH, IP)
    .op(LD | H | IND, IP + (destination ? 2 : 0))
    .label('keyed');
  if (key.by === 'port-shard') {
    // A = port: shard = (port − base) / size, then the shard's socket. A port below the
    // base wraps to a quotient of at least 65535, past every shard, like one past the range.
    a.op(ALU | SUB | K, key.base).op(ALU | DIV | K, key.shardSize);
    key.sockets.forEach((socket, shard) => {
      a.jump(JMP | JEQ | K, shard, `shard${shard}`, `next${shard}`).label(`shard${shard}`).op(RET | K, socket).label(`next${shard}`);
    });
    a.op(RET | K, KERNEL_HASH);
  } else {
    // X = port, A = address ^ port.
    a.op(MISC | TAX).label('addr4').op(LD | W | ABS, destination ? IP_DST : IP_SRC).op(ALU | XOR | X);
  }
  // A = the key word: hash by multiplication, keep the top 8 bits (the bucket), then its socket.
  a.label('mix').op(ALU | MUL | K, HASH_MULTIPLIER).op(ALU | RSH | K, 24);
  if (buckets === undefined) return a.op(ALU | MOD | K, sockets).op(RET | A).assemble();
  bucketTree(a, bucketRuns(buckets), 0, bucketRuns(buckets).length - 1, 't');
  return a.assemble();
}
