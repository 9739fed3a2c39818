/**
 * `conntrack` suite: per-operation cost of the connection-tracking table (lookup hit/miss
 * in both directions, TCP update, create+delete churn, bounded expiry sweep) and of Maglev
 * (lookup, table build). Single thread, in process; figures are ns per operation.
 */
import { ConntrackTable } from '../../src/conntrack/conntrack-table.ts';
import { CtDir, IpProto, TcpFlag } from '../../src/conntrack/conntrack-state.ts';
import { MaglevTable } from '../../src/flow/maglev.ts';
import { FlowKey6 } from '../../src/packet/flow-key-ipv6.ts';
import type { BenchSuite, SuiteReport } from '../lib/report.ts';
import { shuffled } from '../lib/pipeline-traffic.ts';

const CAPACITY = 1 << 16;
const FLOWS = CAPACITY / 2;
const ROUNDS = 40;

function makeTuples(n: number, salt: number): Uint32Array {
  const t = new Uint32Array(n * 4);
  let x = 0x9e3779b9 ^ salt;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    t[i * 4] = 0xc6120000 | (x & 0xffff);
    t[i * 4 + 1] = 0xc6130000 | (x >>> 16);
    t[i * 4 + 2] = 1024 + (i % 60000);
    t[i * 4 + 3] = 80 + (i & 7);
  }
  return t;
}

function nsPerOp(ops: number, body: () => number): { ns: number; sink: number } {
  body();
  const start = process.hrtime.bigint();
  const sink = body();
  const ns = Number(process.hrtime.bigint() - start) / ops;
  return { ns, sink };
}


/** Lookups of the flows in `order` (a permutation), so entries are visited at random as packets would. */
function lookupShuffled(ct: ConntrackTable, t: Uint32Array, order: Int32Array, reply: boolean): number {
  let hits = 0;
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < order.length; k++) {
      const o = order[k] * 4;
      const ref = reply
        ? ct.lookup(IpProto.TCP, t[o + 1], t[o], t[o + 3], t[o + 2], 1)
        : ct.lookup(IpProto.TCP, t[o], t[o + 1], t[o + 2], t[o + 3], 1);
      if (ref >= 0) hits++;
    }
  }
  return hits;
}

function lookupAll(ct: ConntrackTable, t: Uint32Array, n: number, reply: boolean): number {
  let hits = 0;
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < n; i++) {
      const o = i * 4;
      const ref = reply
        ? ct.lookup(IpProto.TCP, t[o + 1], t[o], t[o + 3], t[o + 2], 1)
        : ct.lookup(IpProto.TCP, t[o], t[o + 1], t[o + 2], t[o + 3], 1);
      if (ref >= 0) hits++;
    }
  }
  return hits;
}

/** IPv6 tuples from the IPv4 ones: 2001:db8::/96 + the IPv4 address, 10 words per flow (s0–s3, d0–d3, ports). */
function makeTuples6(t: Uint32Array, n: number): Int32Array {
  const w = new Int32Array(n * 10);
  for (let i = 0; i < n; i++) {
    w.set([0x20010db8, i, 0, t[i * 4], 0x20010db8, 0, 0x8000, t[i * 4 + 1], t[i * 4 + 2], t[i * 4 + 3]], i * 10);
  }
  return w;
}

/** IPv6 lookups as a function makes them: one reused FlowKey6 filled from the packet's words, then `lookup6`. */
function lookupAll6(ct: ConntrackTable, w: Int32Array, n: number, reply: boolean): number {
  const k = new FlowKey6();
  k.proto = IpProto.TCP;
  let hits = 0;
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < n; i++) {
      const o = i * 10;
      const a = reply ? o + 4 : o;
      const b = reply ? o : o + 4;
      k.s0 = w[a]; k.s1 = w[a + 1]; k.s2 = w[a + 2]; k.s3 = w[a + 3];
      k.d0 = w[b]; k.d1 = w[b + 1]; k.d2 = w[b + 2]; k.d3 = w[b + 3];
      k.srcPort = w[o + (reply ? 9 : 8)];
      k.dstPort = w[o + (reply ? 8 : 9)];
      if (ct.lookup6(k, 1) >= 0) hits++;
    }
  }
  return hits;
}

/** The conntrack/Maglev micro-benchmark suite (register as `conntrackSuite`). */
export const conntrackSuite: BenchSuite = {
  name: 'conntrack',
  description: 'conntrack table and Maglev lookup: ns per operation',
  async run(progress): Promise<SuiteReport> {
    const rows: Array<Array<string | number>> = [];
    const row = (op: string, ns: number, note: string): void => {
      rows.push([op, ns.toFixed(1), (1000 / ns).toFixed(2), note]);
      progress(`${op}: ${ns.toFixed(1)} ns/op`);
    };

    const ct = new ConntrackTable({ capacity: CAPACITY, seed: 1 });
    const flows = makeTuples(FLOWS, 1);
    const strangers = makeTuples(FLOWS, 2);
    const entries = new Int32Array(FLOWS);
    for (let i = 0; i < FLOWS; i++) {
      const o = i * 4;
      entries[i] = ct.createFlow(IpProto.TCP, flows[o], flows[o + 1], flows[o + 2], flows[o + 3], 0);
    }
    const load = `${FLOWS} flows in ${CAPACITY} entries`;
    row('lookup hit, original dir', nsPerOp(FLOWS * ROUNDS, () => lookupAll(ct, flows, FLOWS, false)).ns, load);
    row('lookup hit, reply dir', nsPerOp(FLOWS * ROUNDS, () => lookupAll(ct, flows, FLOWS, true)).ns, load);
    row('lookup miss', nsPerOp(FLOWS * ROUNDS, () => lookupAll(ct, strangers, FLOWS, false)).ns, load);
    const order = shuffled(FLOWS, 0x5eed);
    row('lookup hit, original dir, random order', nsPerOp(FLOWS * ROUNDS, () => lookupShuffled(ct, flows, order, false)).ns, `${load}, flows visited in shuffled order`);
    row('lookup hit, reply dir, random order', nsPerOp(FLOWS * ROUNDS, () => lookupShuffled(ct, flows, order, true)).ns, `${load}, flows visited in shuffled order`);

    // The same flows over IPv6 in a dual-stack table, with half as many IPv4 flows sharing its index.
    const dual = new ConntrackTable({ capacity: CAPACITY, seed: 1, ipv6: true });
    const flows6 = makeTuples6(flows, FLOWS);
    const strangers6 = makeTuples6(strangers, FLOWS);
    const k6 = new FlowKey6();
    for (let i = 0; i < FLOWS; i++) {
      const o = i * 10;
      k6.set(flows6.subarray(o, o + 4), flows6.subarray(o + 4, o + 8), flows6[o + 8], flows6[o + 9], IpProto.TCP);
      dual.createFlow6(k6, 0);
    }
    const half = FLOWS / 2;
    for (let i = 0; i < half; i++) dual.createFlow(IpProto.TCP, flows[i * 4], flows[i * 4 + 1], flows[i * 4 + 2], flows[i * 4 + 3], 0);
    const dualLoad = `${FLOWS} IPv6 + ${half} IPv4 flows in ${CAPACITY} entries (ipv6: true)`;
    row('lookup6 hit, original dir', nsPerOp(FLOWS * ROUNDS, () => lookupAll6(dual, flows6, FLOWS, false)).ns, `${dualLoad}; a reused FlowKey6 filled per lookup`);
    row('lookup6 hit, reply dir', nsPerOp(FLOWS * ROUNDS, () => lookupAll6(dual, flows6, FLOWS, true)).ns, dualLoad);
    row('lookup6 miss', nsPerOp(FLOWS * ROUNDS, () => lookupAll6(dual, strangers6, FLOWS, false)).ns, dualLoad);
    row('lookup (IPv4) hit in the dual-stack table', nsPerOp(half * ROUNDS, () => lookupAll(dual, flows, half, false)).ns, dualLoad);

    for (let i = 0; i < FLOWS; i++) {
      ct.update(entries[i], CtDir.ORIGINAL, TcpFlag.SYN, 1);
      ct.update(entries[i], CtDir.REPLY, TcpFlag.SYN | TcpFlag.ACK, 1);
    }
    row(
      'update (TCP ACK, established)',
      nsPerOp(FLOWS * ROUNDS, () => {
        let s = 0;
        for (let r = 0; r < ROUNDS; r++) for (let i = 0; i < FLOWS; i++) s += ct.update(entries[i], r & 1, TcpFlag.ACK, 2 + r);
        return s;
      }).ns,
      'state machine + timer refresh',
    );

    const churn = makeTuples(4096, 3);
    row(
      'create + delete',
      nsPerOp(4096 * ROUNDS, () => {
        let s = 0;
        for (let r = 0; r < ROUNDS; r++) {
          for (let i = 0; i < 4096; i++) {
            const o = i * 4;
            const e = ct.createFlow(IpProto.UDP, churn[o], churn[o + 1], churn[o + 2], churn[o + 3], 3);
            if (e >= 0) s += ct.delete(e) ? 1 : 0;
          }
        }
        return s;
      }).ns,
      `with ${FLOWS} other flows present`,
    );
    row(
      'expire sweep, per entry scanned',
      nsPerOp(CAPACITY * ROUNDS, () => {
        let s = 0;
        for (let r = 0; r < ROUNDS * (CAPACITY / 256); r++) s += ct.expire(3, 256);
        return s;
      }).ns,
      'maxScan 256, nothing expired',
    );

    const backends = Array.from({ length: 100 }, (_, i) => ({ name: `198.18.1.${i}:80`, weight: 1 + (i % 3) }));
    const mg = MaglevTable.build(backends);
    const hashes = makeTuples(FLOWS, 4);
    row(
      'Maglev lookup',
      nsPerOp(FLOWS * ROUNDS, () => {
        let s = 0;
        for (let r = 0; r < ROUNDS; r++) for (let i = 0; i < FLOWS; i++) s += mg.lookup(hashes[i * 4] ^ hashes[i * 4 + 1]);
        return s;
      }).ns,
      'M = 65537, 100 weighted backends',
    );

    const builds: Array<Array<string | number>> = [];
    for (const n of [10, 100, 1000]) {
      const list = Array.from({ length: n }, (_, i) => ({ name: `198.18.${i >> 8}.${i & 255}:80`, weight: 1 + (i % 4) }));
      const start = performance.now();
      MaglevTable.build(list);
      const ms = performance.now() - start;
      builds.push([n, ms.toFixed(1)]);
      progress(`Maglev build N=${n}: ${ms.toFixed(1)} ms`);
    }

    return {
      suite: 'conntrack',
      tables: [
        { title: 'Per-operation cost', columns: ['operation', 'ns/op', 'Mops/s', 'notes'], rows },
        { title: 'Maglev table build (M = 65537, weights 1–4)', columns: ['backends', 'ms'], rows: builds },
      ],
      targets: [],
      notes: [
        `${ROUNDS} rounds over the working set after one warm-up pass; single thread; shared 2-core machine, so figures are noisy.`,
        'Lookups hash the 5-tuple (murmur3-style mix) and probe a linear-probing index at load ≤ 0.5.',
      ],
    };
  },
};
