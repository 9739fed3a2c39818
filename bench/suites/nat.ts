import { loadavg } from 'node:os';
import { compilePipeline } from '../../src/pipeline/compiler.ts';
import { loadPipeline } from '../../src/pipeline/load-pipeline.ts';
import type { PipelineInstance } from '../../src/pipeline/compiled-pipeline.ts';
import { PacketBatch } from '../../src/pipeline/packet-batch.ts';
import { Side, Verdict } from '../../src/pipeline/verdict.ts';
import { IpProto } from '../../src/packet/ipv4.ts';
import { TcpFlag } from '../../src/packet/tcp.ts';
import { rewriteSrcPort } from '../../src/packet/rewrite.ts';
import { writeFrame, type FrameSpec } from '../../src/traffic/frame-builder.ts';
import { buildIpv6Frame } from '../../src/packet/ipv6-frame-builder.ts';
import { nat as natFunction } from '../../functions/nat/pipeline.ts';
import type { BenchSuite, SuiteReport } from '../lib/report.ts';
import { BATCH, HEADER, measure, shuffled, SIZES_64, SIZES_IMIX, STRIDE, Traffic, type Measured } from '../lib/pipeline-traffic.ts';

const TARGET_MPPS = 10;

const HOST_BASE = 0x0a000100; // 10.0.1.0
const SERVER_BASE = 0xc6130001; // 198.19.0.1
/** Internal source ports per host: flow k is host k >> 4, port base + (k & 15). */
const PORTS_PER_HOST = 16;
const NAT_CONFIG = { snat: { addresses: '198.18.100.0/30', match: ['10.0.0.0/8'] } };


type Mode = 'established' | 'new mappings';

interface Scenario {
  mode: Mode;
  flows: number;
  mix: '64 B' | 'IMIX';
}

/** IPv6 rows: passthrough (NAT64 off: every IPv6 frame forwarded untranslated) or NAT64 (established mappings). */
export type Family6 = 'IPv6 passthrough' | 'NAT64';

/** One IPv6 row of the suite. */
export interface Scenario6 {
  family: Family6;
  flows: number;
  mix: '64 B' | 'IMIX';
}

/** NAT64 onto the same pool as NAT44, with the well-known prefix. */
const NAT64_CONFIG = { ...NAT_CONFIG, nat64: {} };
/** Bytes in front of each frame in the packet memory: NAT64 grows a frame 20 bytes into it (the pool keeps 128). */
const HEADROOM = 128;
/** Wanted IPv6 rate as a share of the IPv4 (NAT44) one. */
const V6_RATIO_TARGET = 0.75;



const isTcp = (f: number): boolean => (f & 1) === 0;
const hostOf = (f: number): number => HOST_BASE + (f >>> 4);
const serverOf = (f: number): number => SERVER_BASE + (f % 251);

/** Inside-to-outside frame of flow `f` (TCP for even flows, UDP for odd ones). */
function outFrame(f: number, tcpFlags: number, size: number, portBase = 20000): FrameSpec {
  const tcp = isTcp(f);
  return {
    proto: tcp ? IpProto.TCP : IpProto.UDP,
    srcIp: hostOf(f),
    dstIp: serverOf(f),
    srcPort: portBase + (f % PORTS_PER_HOST),
    dstPort: tcp ? 443 : 53,
    tcpFlags,
    payloadLength: size - (tcp ? 54 : 42),
  };
}



/** Groups of the client of flow `f`: 2001:db8:1::<host>, 16 flows (source ports) per host. */
function client6(f: number): number[] {
  const h = f >>> 4;
  return [0x2001, 0xdb8, 1, 0, 0, 0, h >>> 16, (h & 0xffff) | 0x100];
}

/** Groups of the server of flow `f` as the client sees it: the IPv4 server embedded in 64:ff9b::/96. */
function server6(f: number): number[] {
  const v4 = serverOf(f);
  return [0x64, 0xff9b, 0, 0, 0, 0, v4 >>> 16, v4 & 0xffff];
}

/** Payload bytes of the IPv6 frames: zeros. */
const ZEROS = new Uint8Array(1514);

/** Writes flow `f`'s IPv6 frame from the client (or, `reverse`, to it) of about `size` bytes at `off`; returns its length. */
function writeFrame6(view: DataView, off: number, f: number, tcpFlags: number, size: number, reverse = false): number {
  const tcp = isTcp(f);
  const port = 20000 + (f % PORTS_PER_HOST);
  const service = tcp ? 443 : 53;
  const minimum = tcp ? 74 : 62;
  return buildIpv6Frame(view, off, {
    src: reverse ? server6(f) : client6(f),
    dst: reverse ? client6(f) : server6(f),
    proto: tcp ? IpProto.TCP : IpProto.UDP,
    srcPort: reverse ? service : port,
    dstPort: reverse ? port : service,
    tcpFlags,
    // Zeros, as in the packet memory beyond the restored headers (checksums stay right).
    payload: ZEROS.subarray(0, Math.max(0, size - minimum)),
  });
}

/**
 * Traffic whose frames sit HEADROOM bytes into their slot and whose batches get their
 * offsets and lengths back on every load: NAT64 moves a frame's start (forward when it
 * becomes IPv4, back into the headroom when it becomes IPv6) and the pipeline writes that
 * into the batch.
 */
export class HeadroomTraffic extends Traffic {
  override seal(): void {
    super.seal();
    for (const batches of this.windows) for (const b of batches) for (let i = 0; i < b.count; i++) b.offsets[i] += HEADROOM;
  }
  override load(w: number): PacketBatch[] {
    const start = w * this.slots;
    for (const b of this.windows[w]) {
      for (let i = 0; i < b.count; i++) {
        const k = b.ids[i];
        const at = (k - start) * STRIDE + HEADROOM;
        this.bytes.set(this.pristine.subarray(k * HEADER, (k + 1) * HEADER), at);
        b.offsets[i] = at;
        b.lengths[i] = this.lengths[k];
      }
    }
    return this.windows[w];
  }
}

/**
 * Creates the mapping of every flow (TCP SYN / UDP datagram out: IPv4, or with `nat64` IPv6
 * from the client, HEADROOM bytes into its slot) and answers it (SYN-ACK / UDP reply in from
 * the IPv4 server, so TCP mappings are established); returns each flow's external endpoint
 * as address and port.
 */
function establish(nat: PipelineInstance, flows: number, now: number, nat64 = false): { addr: Uint32Array; port: Uint16Array } {
  const addr = new Uint32Array(flows);
  const port = new Uint16Array(flows);
  const view = new DataView(new ArrayBuffer(BATCH * STRIDE));
  const b = new PacketBatch(view);
  for (const inbound of [false, true]) {
    for (let from = 0; from < flows; from += BATCH) {
      b.clear();
      for (let f = from; f < Math.min(flows, from + BATCH); f++) {
        const off = (f - from) * STRIDE + (nat64 ? HEADROOM : 0);
        const length = inbound
          ? writeFrame(view, off, { proto: isTcp(f) ? IpProto.TCP : IpProto.UDP, srcIp: serverOf(f), dstIp: addr[f], srcPort: isTcp(f) ? 443 : 53, dstPort: port[f], tcpFlags: TcpFlag.SYN | TcpFlag.ACK })
          : nat64
            ? writeFrame6(view, off, f, TcpFlag.SYN, 0)
            : writeFrame(view, off, outFrame(f, TcpFlag.SYN, 60));
        b.push(f - from, off, length, inbound ? Side.OUTSIDE : Side.INSIDE);
      }
      nat.processBatch(b, now);
      for (let i = 0; i < b.count; i++) {
        if (b.verdicts[i] === Verdict.DROP) throw new Error(`nat bench: ${nat64 ? 'NAT64 ' : ''}setup packet of flow ${from + i} dropped`);
        if (!inbound) {
          // The translated packet is IPv4 either way (NAT64 moved its start to the IPv4 header's frame).
          addr[from + i] = view.getUint32(b.offsets[i] + 26);
          port[from + i] = view.getUint16(b.offsets[i] + 34);
        }
      }
    }
  }
  return { addr, port };
}

/** The clock of the IPv6 rows' setup (ms). */
const NOW = 1_000_000;

/**
 * IPv6 beside IPv4: passthrough (NAT64 off) sends IPv6 frames both ways, all forwarded
 * untranslated; NAT64 alternates IPv6 client packets out (translated to IPv4, the frame 20
 * bytes shorter) and IPv4 server packets in (translated to IPv6, 20 bytes longer) of live
 * mappings, as the established NAT44 rows do.
 */
async function runScenario6(s: Scenario6): Promise<Measured> {
  const { nat, traffic } = await prepareScenario6(s, NOW);
  let now = NOW;
  return measure(
    nat,
    (pass) => {
      now += 1;
      return traffic.load(pass % traffic.windows.length);
    },
    traffic.windows.length,
    () => now,
  );
}

/**
 * An IPv6 row's pipeline, its mappings opened (NAT64) at `now`, and its traffic: IPv6
 * client packets (even frames) and server answers (odd frames: IPv6 for passthrough, IPv4
 * to the mapping for NAT64), flows in shuffled order, sealed in windows of batches.
 */
export async function prepareScenario6(s: Scenario6, now: number): Promise<{ nat: PipelineInstance; traffic: HeadroomTraffic; counters: Float64Array; counterNames: string[] }> {
  const sizes = s.mix === '64 B' ? SIZES_64 : SIZES_IMIX;
  const nat64 = s.family === 'NAT64';
  const compiled = compilePipeline(natFunction, { ...(nat64 ? NAT64_CONFIG : NAT_CONFIG), capacity: s.flows * 2 });
  const counters = new Float64Array(compiled.counters.length);
  const nat = await loadPipeline(compiled, { counters });
  const order = shuffled(s.flows, 0x6a7 + s.flows);
  const sizeOf = (k: number): number => sizes[k % sizes.length];
  const ext = nat64 ? establish(nat, s.flows, now, true) : undefined;
  const traffic = new HeadroomTraffic(s.flows * 2);
  for (let k = 0; k < traffic.count; k++) {
    const f = order[k >> 1];
    const flags = TcpFlag.ACK | TcpFlag.PSH;
    if ((k & 1) === 0) traffic.write(k, (view) => writeFrame6(view, 0, f, flags, sizeOf(k)), Side.INSIDE);
    else if (ext === undefined) traffic.write(k, (view) => writeFrame6(view, 0, f, flags, sizeOf(k), true), Side.OUTSIDE);
    else {
      const tcp = isTcp(f);
      traffic.set(
        k,
        { proto: tcp ? IpProto.TCP : IpProto.UDP, srcIp: serverOf(f), dstIp: ext.addr[f], srcPort: tcp ? 443 : 53, dstPort: ext.port[f], tcpFlags: flags, payloadLength: sizeOf(k) - (tcp ? 54 : 42) },
        Side.OUTSIDE,
      );
    }
  }
  traffic.seal();
  return { nat, traffic, counters, counterNames: compiled.counters.map((c) => c.name) };
}

async function runScenario(s: Scenario): Promise<Measured> {
  const sizes = s.mix === '64 B' ? SIZES_64 : SIZES_IMIX;
  const compiled = compilePipeline(natFunction, { ...NAT_CONFIG, capacity: s.flows * 2 });
  const counters = new Float64Array(compiled.counters.length);
  const nat = await loadPipeline(compiled, { counters });
  let now = 1_000_000;
  const order = shuffled(s.flows, 0x4a7 + s.flows);
  const sizeOf = (k: number): number => sizes[k % sizes.length];

  let traffic: Traffic;
  let prepare: (pass: number) => PacketBatch[];
  if (s.mode === 'established') {
    const ext = establish(nat, s.flows, now);
    traffic = new Traffic(s.flows * 2);
    for (let k = 0; k < traffic.count; k++) {
      const f = order[k >> 1];
      const tcp = isTcp(f);
      if ((k & 1) === 0) {
        traffic.set(k, outFrame(f, TcpFlag.ACK | TcpFlag.PSH, sizeOf(k)), Side.INSIDE);
      } else {
        const reply: FrameSpec = {
          proto: tcp ? IpProto.TCP : IpProto.UDP,
          srcIp: serverOf(f),
          dstIp: ext.addr[f],
          srcPort: tcp ? 443 : 53,
          dstPort: ext.port[f],
          tcpFlags: TcpFlag.ACK | TcpFlag.PSH,
          payloadLength: sizeOf(k) - (tcp ? 54 : 42),
        };
        traffic.set(k, reply, Side.OUTSIDE);
      }
    }
    traffic.seal();
    prepare = (pass) => {
      now += 1;
      return traffic.load(pass % traffic.windows.length);
    };
  } else {
    traffic = new Traffic(s.flows);
    for (let k = 0; k < traffic.count; k++) traffic.set(k, outFrame(order[k], TcpFlag.SYN, sizeOf(k)), Side.INSIDE);
    traffic.seal();
    // Every round over the flows uses fresh source ports (new internal endpoints) and a
    // clock 301 s later, past the UDP (300 s) and TCP transitory (240 s) timeouts, so the
    // previous round's mappings expire and free their ports as the table churns: that
    // expiry work is part of the timing.
    prepare = (pass) => {
      const w = pass % traffic.windows.length;
      const round = Math.floor(pass / traffic.windows.length);
      if (w === 0) now += 301_000;
      const batches = traffic.load(w);
      const portBase = 1024 + ((round * PORTS_PER_HOST) % 60000);
      for (const b of batches) {
        for (let i = 0; i < b.count; i++) {
          const off = b.offsets[i];
          const proto = traffic.view.getUint8(off + 23);
          rewriteSrcPort(traffic.view, off + 34, proto, portBase + (traffic.view.getUint16(off + 34) % PORTS_PER_HOST));
        }
      }
      return batches;
    };
  }

  return measure(nat, prepare, traffic.windows.length, () => now);
}

/**
 * Bench suite `nat`: the compiled NAT pipeline (parse-frame + nat; SNAT onto 4 external
 * addresses, endpoint-independent mappings) run in-process via `loadPipeline`, single
 * core, batches of 32, frames at stride 2176 in one ArrayBuffer. Established: translated
 * traffic of live mappings, both directions alternating (mapping lookup + source rewrite
 * out; owner array read + destination rewrite in); new mappings: each packet from an
 * internal endpoint without a mapping (port allocation + mapping insert), with the
 * previous round's mappings expiring meanwhile. 1k and 64k flows, 64 B and IMIX frames;
 * half the flows TCP, half UDP. IPv6 beside them: passthrough (NAT64 off) and NAT64 with
 * established mappings, each with its ratio to the established NAT44 row (target ≥ 0.75).
 */
export const natSuite: BenchSuite = {
  name: 'nat',
  description: 'NAT (SNAT with endpoint-independent mapping): Mpps per core at batch 32, established mappings and new-mapping rate; IPv6 passthrough and NAT64 beside them',
  async run(progress) {
    const scenarios: Scenario[] = [];
    for (const mode of ['established', 'new mappings'] as const) for (const flows of [1024, 65536]) for (const mix of ['64 B', 'IMIX'] as const) scenarios.push({ mode, flows, mix });
    const rows: Array<Array<string | number>> = [];
    const targets: SuiteReport['targets'] = [];
    const notes: string[] = [];
    for (const s of scenarios) {
      const m = await runScenario(s);
      const label = `${s.mode}, ${s.mix}, ${s.flows / 1024}k flows`;
      progress(`${label}: ${m.cpuBest.toFixed(2)} Mpps per CPU-s (best), ${m.best.toFixed(2)} wall${m.drops > 0 ? `, ${m.drops} drops` : ''}`);
      rows.push([s.mode, `${s.flows / 1024}k`, s.mix, m.cpuBest.toFixed(2), m.cpuMedian.toFixed(2), (1000 / m.cpuBest).toFixed(0), m.best.toFixed(2), m.median.toFixed(2), m.packets, m.drops]);
      if (m.drops > 0) notes.push(`${label}: ${m.drops} packets dropped during measurement (unexpected)`);
      if (s.mode === 'established' && s.mix === '64 B') {
        targets.push({
          name: `${label}, batch 32, 1 core`,
          target: `≥ ${TARGET_MPPS} Mpps`,
          measured: `${m.cpuBest.toFixed(2)} Mpps per CPU-second (${m.best.toFixed(2)} wall clock)`,
          met: m.cpuBest >= TARGET_MPPS,
        });
      }
    }
    // IPv6 beside IPv4: each IPv6 row against the established NAT44 row of the same flows and frames.
    const v4 = new Map<string, number>();
    scenarios.forEach((s, i) => {
      if (s.mode === 'established') v4.set(`${s.flows}/${s.mix}`, Number(rows[i][3]));
    });
    const rows6: Array<Array<string | number>> = [];
    for (const family of ['IPv6 passthrough', 'NAT64'] as const) {
      for (const flows of [1024, 65536]) {
        for (const mix of ['64 B', 'IMIX'] as const) {
          const m = await runScenario6({ family, flows, mix });
          const base = v4.get(`${flows}/${mix}`) ?? NaN;
          const ratio = m.cpuBest / base;
          const label = `${family}, ${mix}, ${flows / 1024}k flows`;
          progress(`${label}: ${m.cpuBest.toFixed(2)} Mpps per CPU-s (best; NAT44 ${base.toFixed(2)}, ratio ${ratio.toFixed(2)})${m.drops > 0 ? `, ${m.drops} drops` : ''}`);
          rows6.push([family, `${flows / 1024}k`, mix, base.toFixed(2), m.cpuBest.toFixed(2), m.cpuMedian.toFixed(2), (1000 / m.cpuBest).toFixed(0), m.best.toFixed(2), ratio.toFixed(2), m.drops]);
          if (m.drops > 0) notes.push(`${label}: ${m.drops} packets dropped during measurement (unexpected)`);
          if (mix === '64 B') {
            targets.push({
              name: `IPv6 within 75 % of IPv4: ${label} ÷ NAT44 established, batch 32, 1 core`,
              target: `≥ ${V6_RATIO_TARGET}`,
              measured: `${ratio.toFixed(2)} (${m.cpuBest.toFixed(2)} vs ${base.toFixed(2)} Mpps per CPU-second)`,
              met: ratio >= V6_RATIO_TARGET,
            });
          }
        }
      }
    }
    notes.push(
      'Single core, in-process (compiled pipeline via loadPipeline); batches prebuilt, so virtqueue and pool costs are not included.',
      'Frames are rewritten in place; the 64 header bytes of each frame are restored between passes, outside the timed region. New-mapping passes also set fresh source ports (new internal endpoints) and advance the clock 301 s so the previous pass\'s mappings expire (their removal, up to 64 per batch, is inside the timing).',
      'Established traffic alternates inside→outside (SNAT) and outside→inside (reverse) packets of live mappings, flows in shuffled order; TCP mappings are in the established state.',
      '"Mpps per CPU-s" divides packets by the CPU time this process used while timing (process.cpuUsage), which is what one core delivers even when the shared machine descheduled us; "wall" divides by elapsed time. Targets are judged on the CPU-time figure; both are shown. Best and median of 3 runs of ≥ 0.7 s wall clock each, after warm-up.',
      '64 B means 60-byte frames + FCS; IMIX is 64/594/1518 B in 7:4:1 (the NAT reads and rewrites headers only).',
      'Throughput falls as the working set leaves L2 (a 4k-flow run measured ≈ 5.5 Mpps per CPU-s during development): with 64k flows the mapping records (64 B each), their index and the external-port owner array are spread over ~13 MiB, so each packet waits on two dependent cache misses (index → mapping outbound, owner → mapping inbound); the per-packet instruction count is the same as with 1k flows.',
      'IPv6 rows: passthrough is the NAT without `nat64`, IPv6 TCP/UDP frames both ways (each forwarded untranslated, counted ipv6_passed); NAT64 is the NAT with `nat64: {}` (64:ff9b::/96 onto the same pool), IPv6 client packets out (the header rewritten to IPv4 in place, the frame\'s start moving 20 bytes forward) alternating with IPv4 server packets in (rewritten to IPv6, 20 bytes back into the 128-byte headroom) of established mappings. The smallest IPv6 frames are 74 B (TCP) and 62 B (UDP) without FCS; IMIX sizes are as for IPv4 (at least the smallest). Frames sit 128 bytes into their slot and get offset and length back between passes, outside the timing.',
      `Load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')} on a shared 2-core machine.`,
    );
    return {
      suite: 'nat',
      tables: [
        {
          title: 'NAT throughput (Mpps, 1 core, batch 32)',
          columns: ['traffic', 'flows', 'frames', 'Mpps per CPU-s best', 'Mpps per CPU-s median', 'CPU ns/packet', 'Mpps wall best', 'Mpps wall median', 'packets measured', 'drops'],
          rows,
        },
        {
          title: 'IPv6 beside IPv4 (Mpps, 1 core, batch 32; NAT44 = the established row of the same flows and frames)',
          columns: ['traffic', 'flows', 'frames', 'NAT44 Mpps per CPU-s', 'Mpps per CPU-s best', 'Mpps per CPU-s median', 'CPU ns/packet', 'Mpps wall best', 'IPv6 ÷ IPv4', 'drops'],
          rows: rows6,
        },
      ],
      targets,
      notes,
    };
  },
};
