/**
 * `io` suite: batched UDP socket I/O (the native addon's `recvmmsg`/`sendmmsg` against Node's
 * dgram) with 64-byte datagrams over a veth pair between two lab namespaces A
 * (198.18.200.1/30) and B (198.18.200.2/30):
 *
 * 1. **receive**: a sender process in A blasts at B (native addon, 1024 rows per
 *    `sendmmsg`, `UDP_SEGMENT` runs); a receiver process in B counts for a fixed window
 *    through dgram 'message' events (the baseline), the dgram back end of
 *    `BatchedUdpSocket` (dgram + a copy into a SharedArrayBuffer pool) and the native back
 *    end at batch 1, 8, 64, 256. Wall-clock datagrams/s, per CPU-second of the receiving
 *    process, and the kernel's `RcvbufErrors` in B.
 * 2. **forward**: the same, but the process in B sends every datagram on to a sink in A
 *    (an nft counter that drops them in A's input hook): dgram baseline (message handler →
 *    send), the dgram back end, native at batch 1/64/256 and native batch 64 with GSO.
 *    Forwarded datagrams/s counted at the sink, per CPU-second of the forwarder.
 * 3. **vxlan**: a pass-through chain in this process between two `VxlanPort`s (root
 *    namespace), kernel VXLAN devices in A (client) and B (server) over veth underlays;
 *    the sender blasts UDP through the chain one way, then the other, with each socket back
 *    end. Frames/s counted by an nft counter in the receiving namespace.
 *
 * Every process runs in a namespace of one `Lab`, removed in `finally`; every process has
 * a hard time bound. Writes `io.json` and `io.md` under bench/results/.
 *
 * Environment: `IO_BENCH_SECONDS` (window, default 2), `IO_BENCH_WARMUP` (default 0.5),
 * `IO_BENCH_PARTS` (`receive,forward,vxlan`).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { passThrough } from '../../functions/pass-through/pipeline.ts';
import { ChainDataPlane, createDataPlanePool } from '../../src/dataplane/chain-data-plane.ts';
import type { VxlanPort } from '../../src/dataplane/ports/vxlan-port.ts';
import { openVxlanPort } from '../../src/ports/vxlan.ts';
import { PumpLoop } from '../../src/dataplane/pump-loop.ts';
import { buildImage } from '../../src/image/image-builder.ts';
import { ImageStore } from '../../src/image/image-store.ts';
import { defaultUdpBackend, type UdpBackend } from '../../src/io/batched-udp-socket.ts';
import { Lab } from '../../src/netlab/lab.ts';
import type { LabProcess } from '../../src/netlab/lab-process.ts';
import { canCreateNamespaces } from '../../src/netlab/namespace-probe.ts';
import { loadNativeAddon } from '../../src/native/native-addon.ts';
import { cpuSnapshot, cpuUsageSince, type CpuUsage } from '../lib/cpu-usage.ts';
import type { BenchSuite, ResultTable, SuiteReport } from '../lib/report.ts';
import type { IoWorkerParams, IoWorkerResult } from '../workers/io-udp-worker.ts';

const WINDOW_S = Number(process.env.IO_BENCH_SECONDS ?? 2);
const WARMUP_S = Number(process.env.IO_BENCH_WARMUP ?? 0.5);
const PARTS = new Set((process.env.IO_BENCH_PARTS ?? 'receive,forward,vxlan').split(',').map((s) => s.trim()));

const WORKER = new URL('../workers/io-udp-worker.ts', import.meta.url);
const A_IP = '198.18.200.1';
const B_IP = '198.18.200.2';
const RX_PORT = 9000;
const SINK_PORT = 9001;
const VX_SINK_PORT = 9100;
const CLIENT_IP = '198.18.201.2';
const SERVER_IP = '198.18.202.2';
const PAYLOAD = 64;
/** Sender: rows per `sendmmsg` call (the addon groups them in `UDP_SEGMENT` runs of 64). */
const BLAST_BATCH = 1024;
/** Bound on a sender's life; it is killed at the end of its phase anyway. */
const BLAST_MAX_S = 150;
/** Time a receiver/forwarder gets beyond warm-up + window (tsx start-up on a busy machine). */
const CHILD_SLACK_S = 25;

const TARGET_RATIO = 4;
const TARGET_FORWARD_PER_CORE = 400_000;

type RxPath = NonNullable<IoWorkerParams['path']>;
interface Config {
  key: string;
  label: string;
  path: RxPath;
  batch: number;
  gso: boolean;
}

const RECEIVE_CONFIGS: Config[] = [
  { key: 'dgram', label: 'dgram (message events)', path: 'dgram', batch: 1, gso: false },
  { key: 'batched-dgram', label: 'BatchedUdpSocket, dgram back end (copy into the pool)', path: 'batched-dgram', batch: 64, gso: false },
  ...[1, 8, 64, 256].map((batch) => ({ key: `native-${batch}`, label: `BatchedUdpSocket, native (recvmmsg)`, path: 'native' as const, batch, gso: false })),
];

const FORWARD_CONFIGS: Config[] = [
  { key: 'dgram', label: 'dgram (message handler → send)', path: 'dgram', batch: 1, gso: false },
  { key: 'batched-dgram', label: 'BatchedUdpSocket, dgram back end', path: 'batched-dgram', batch: 64, gso: false },
  ...[1, 64, 256].map((batch) => ({ key: `native-${batch}`, label: 'BatchedUdpSocket, native (recvmmsg → sendmmsg)', path: 'native' as const, batch, gso: false })),
  { key: 'native-64-gso', label: 'BatchedUdpSocket, native, UDP_SEGMENT on send', path: 'native', batch: 64, gso: true },
];

/** Offered load from the sender's ticks over [from, to] (epoch ms). */
interface Offered {
  rate: number;
  refused: number;
}

interface ReceiveRun {
  config: Config;
  result: IoWorkerResult;
  offered: Offered;
}

interface ForwardRun extends ReceiveRun {
  /** Datagrams counted at the sink (nft in A) per second, or NaN when not read. */
  sinkRate: number;
  /** Packets at the sink per second (fewer than datagrams with GSO: one packet per UDP_SEGMENT send). */
  sinkPackets: number;
}

interface VxlanRun {
  backend: UdpBackend;
  direction: 'client → server' | 'server → client';
  sinkRate: number;
  offered: Offered;
  /** Per second over the window: datagrams the receiving port took, datagrams the sending port sent. */
  portReceived: number;
  portSent: number;
  cpu: CpuUsage;
  drops: Record<string, number>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const k = (x: number): string => (Number.isFinite(x) ? `${(x / 1000).toFixed(0)}k` : '—');
const ratio = (x: number): string => (Number.isFinite(x) && x > 0 ? `${x.toFixed(2)}×` : '—');
const fixed = (x: number, d = 2): string => (Number.isFinite(x) ? x.toFixed(d) : '—');

function offeredFrom(blaster: LabProcess, from: number, to: number): Offered {
  const ticks = [...blaster.stdout.matchAll(/^tick (\d+) (\d+) (\d+)$/gm)].map((m) => ({ t: Number(m[1]), sent: Number(m[2]), refused: Number(m[3]) }));
  let a: (typeof ticks)[number] | undefined;
  let b: (typeof ticks)[number] | undefined;
  for (const t of ticks) {
    if (t.t <= from) a = t;
    if (t.t >= to && b === undefined) b = t;
  }
  a ??= ticks[0];
  b ??= ticks.at(-1);
  if (a === undefined || b === undefined || b.t <= a.t) return { rate: NaN, refused: 0 };
  return { rate: ((b.sent - a.sent) * 1000) / (b.t - a.t), refused: b.refused - a.refused };
}

async function startBlaster(lab: Lab, ns: string, target: { address: string; port: number }): Promise<LabProcess> {
  const params: IoWorkerParams = { role: 'blast', listen: { address: '0.0.0.0', port: 0 }, target, batch: BLAST_BATCH, gso: true, payload: PAYLOAD, maxSeconds: BLAST_MAX_S };
  const p = lab.spawnNode(ns, WORKER, [JSON.stringify(params)]);
  await p.waitForOutput(/^ready$/m, 30_000);
  return p;
}

function parseResult(p: LabProcess): IoWorkerResult {
  const m = /^result (.*)$/m.exec(p.stdout);
  if (m === null) throw new Error(`${p.label}: no result; stderr: ${p.stderr.slice(-2000)}`);
  return JSON.parse(m[1]) as IoWorkerResult;
}

/** Runs one receiver/forwarder child in B; `onWindow` is called at its window start and end. */
async function runChild(lab: Lab, ns: string, role: 'receive' | 'forward', c: Config, onWindow?: (edge: 'start' | 'end') => Promise<void>): Promise<IoWorkerResult> {
  const params: IoWorkerParams = {
    role,
    path: c.path,
    listen: { address: B_IP, port: RX_PORT },
    target: role === 'forward' ? { address: A_IP, port: SINK_PORT } : undefined,
    batch: c.batch,
    gso: c.gso,
    warmupMs: WARMUP_S * 1000,
    windowMs: WINDOW_S * 1000,
    maxSeconds: WARMUP_S + WINDOW_S + CHILD_SLACK_S,
  };
  const p = lab.spawnNode(ns, WORKER, [JSON.stringify(params)]);
  try {
    const bound = (WARMUP_S + WINDOW_S + CHILD_SLACK_S) * 1000;
    await p.waitForOutput(/^window-start$/m, bound);
    await onWindow?.('start');
    await p.waitForOutput(/^window-end$/m, WINDOW_S * 1000 + 10_000);
    await onWindow?.('end');
    await p.waitForOutput(/^result /m, 10_000);
    return parseResult(p);
  } finally {
    await p.kill();
  }
}

/**
 * Reads an nft sink counter, timed at the middle of the read, as datagrams: a UDP_SEGMENT
 * (GSO) send crosses veth as one packet carrying many datagrams, so they are counted from
 * the bytes (each packet: one 28-byte IPv4 + UDP header, then PAYLOAD bytes per datagram).
 */
async function sinkCount(lab: Lab, ns: string, table: string, name: string): Promise<{ packets: number; datagrams: number; at: number }> {
  const t0 = performance.now();
  const c = await lab.nftCounter(ns, 'netdev', table, name);
  return { packets: c.packets, datagrams: Math.round((c.bytes - 28 * c.packets) / PAYLOAD), at: (t0 + performance.now()) / 2 };
}

type SinkReading = Awaited<ReturnType<typeof sinkCount>>;

/**
 * The sink: an nft table that counts and drops UDP to `port` at `device`'s ingress hook,
 * before any IP processing (the cheapest place; veth and VXLAN run the receive path of what
 * a process sends partly in that process's own system calls, so a costlier sink would be
 * charged to the forwarder or chain host).
 */
const sinkTable = (table: string, device: string, port: number): string => `table netdev ${table} {
  counter sink {}
  chain ingress {
    type filter hook ingress device "${device}" priority 0; policy accept;
    ip protocol udp udp dport ${port} counter name sink drop
  }
}
`;

/** Opens a port, retrying a bounded number of times while its (reused) port number is still taken. */
async function openRetrying<T>(open: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await open();
    } catch (err) {
      if (attempt >= 20 || !/EADDRINUSE/.test(String((err as Error).message))) throw err;
      await sleep(50);
    }
  }
}

function readSysctl(name: string): string {
  try {
    return readFileSync(`/proc/sys/${name}`, 'utf8').trim();
  } catch {
    return '—';
  }
}

const cpuSeconds = (r: IoWorkerResult): number => r.userSeconds + r.systemSeconds;
const perCpu = (count: number, r: IoWorkerResult): number => (cpuSeconds(r) > 0 ? count / cpuSeconds(r) : NaN);

async function measure(progress: (line: string) => void): Promise<SuiteReport> {
  const notes: string[] = [];
  const receiveRuns: ReceiveRun[] = [];
  const forwardRuns: ForwardRun[] = [];
  const vxlanRuns: VxlanRun[] = [];
  const load = loadavg().map((l) => l.toFixed(2)).join(' / ');
  const lab = new Lab({ prefix: 'nfio' });
  const storeDir = mkdtempSync(join(tmpdir(), 'nfvkit-io-bench-'));
  let chain: ChainDataPlane | undefined;
  const ports: VxlanPort[] = [];
  let leaks = 'not checked';
  try {
    const a = await lab.namespace('a');
    const b = await lab.namespace('b');
    const ab = await lab.veth({ ns: a, address: `${A_IP}/30` }, { ns: b, address: `${B_IP}/30` });
    progress(`lab ${lab.id}: namespaces ${a} (${A_IP}) and ${b} (${B_IP}) over veth`);

    if (PARTS.has('receive') || PARTS.has('forward')) {
      const blaster = await startBlaster(lab, a, { address: B_IP, port: RX_PORT });
      progress(`sender in A: ${PAYLOAD}-byte datagrams, ${BLAST_BATCH} rows per sendmmsg, UDP_SEGMENT on`);
      try {
        if (PARTS.has('receive')) {
          for (const c of RECEIVE_CONFIGS) {
            const result = await runChild(lab, b, 'receive', c);
            const offered = offeredFrom(blaster, result.startedAt, result.endedAt);
            receiveRuns.push({ config: c, result, offered });
            progress(
              `receive ${c.key}: ${k(result.received / result.seconds)}/s wall, ${k(perCpu(result.received, result))}/CPU-s (${fixed(cpuSeconds(result) / result.seconds)} cores), offered ${k(offered.rate)}/s, RcvbufErrors ${k((result.udp.RcvbufErrors ?? 0) / result.seconds)}/s`,
            );
          }
        }
        if (PARTS.has('forward')) {
          await lab.nft(a, sinkTable('iobench_fwd', ab.a, SINK_PORT));
          for (const c of FORWARD_CONFIGS) {
            let s0: SinkReading | undefined;
            let s1: SinkReading | undefined;
            const result = await runChild(lab, b, 'forward', c, async (edge) => {
              if (edge === 'start') s0 = await sinkCount(lab, a, 'iobench_fwd', 'sink');
              else s1 = await sinkCount(lab, a, 'iobench_fwd', 'sink');
            });
            const sinkRate = s0 !== undefined && s1 !== undefined ? ((s1.datagrams - s0.datagrams) * 1000) / (s1.at - s0.at) : NaN;
            const sinkPackets = s0 !== undefined && s1 !== undefined ? ((s1.packets - s0.packets) * 1000) / (s1.at - s0.at) : NaN;
            const offered = offeredFrom(blaster, result.startedAt, result.endedAt);
            forwardRuns.push({ config: c, result, offered, sinkRate, sinkPackets });
            progress(
              `forward ${c.key}: ${k(sinkRate)}/s at the sink (forwarder sent ${k(result.sent / result.seconds)}/s), ${k(perCpu(sinkRate * result.seconds, result))}/CPU-s (${fixed(cpuSeconds(result) / result.seconds)} cores), offered ${k(offered.rate)}/s`,
            );
          }
        }
      } finally {
        await blaster.kill();
      }
    }

    if (PARTS.has('vxlan')) {
      progress('vxlan: building underlays, kernel VXLAN devices and a pass-through chain …');
      const cu = await lab.underlay30();
      const cv = await lab.veth({ ns: null, address: cu.cidrA }, { ns: a, address: cu.cidrB });
      const su = await lab.underlay30();
      const sv = await lab.veth({ ns: null, address: su.cidrA }, { ns: b, address: su.cidrB });
      const pool = createDataPlanePool();
      chain = await ChainDataPlane.boot([await buildImage(passThrough, {}, { store: ImageStore.open(storeDir) })], { pool });
      const backends: UdpBackend[] = loadNativeAddon().available ? ['native', 'dgram'] : ['dgram'];
      let insidePort = 0;
      let outsidePort = 0;
      let devicesMade = false;
      for (const backend of backends) {
        const inside = await openRetrying(() => openVxlanPort(
          { listen: { address: cu.a }, gateway: { addresses: ['198.18.201.1/24'] }, peers: [{ name: 'client', vni: 201, remote: cu.b, port: 4789, subnets: ['198.18.201.0/24'] }] },
          pool,
          { backend, listenPort: insidePort },
        ));
        ports.push(inside);
        const outside = await openRetrying(() => openVxlanPort(
          { listen: { address: su.a }, gateway: { addresses: ['198.18.202.1/24'] }, peers: [{ name: 'server', vni: 202, remote: su.b, port: 4789, subnets: ['198.18.202.0/24'] }] },
          pool,
          { backend, listenPort: outsidePort },
        ));
        ports.push(outside);
        insidePort = inside.localPort;
        outsidePort = outside.localPort;
        if (!devicesMade) {
          const va = await lab.vxlan({ ns: a, vni: 201, dev: cv.b, local: cu.b, remote: cu.a, remotePort: insidePort, address: `${CLIENT_IP}/24` });
          const vb = await lab.vxlan({ ns: b, vni: 202, dev: sv.b, local: su.b, remote: su.a, remotePort: outsidePort, address: `${SERVER_IP}/24` });
          await lab.nft(a, sinkTable('iobench_vx', va, VX_SINK_PORT));
          await lab.nft(b, sinkTable('iobench_vx', vb, VX_SINK_PORT));
          await lab.route(a, '198.18.202.0/24', '198.18.201.1');
          await lab.route(b, '198.18.201.0/24', '198.18.202.1');
          devicesMade = true;
        }
        for (const direction of ['client → server', 'server → client'] as const) {
          const toServer = direction === 'client → server';
          const from = toServer ? inside : outside;
          const to = toServer ? outside : inside;
          // Driven as the controller drives socket-fed ends: PumpLoop, which picks short slices and wires the ports' onReadable.
          const loop = new PumpLoop(chain, inside, outside);
          loop.start();
          let blaster: LabProcess | undefined;
          try {
            blaster = await startBlaster(lab, toServer ? a : b, { address: toServer ? SERVER_IP : CLIENT_IP, port: VX_SINK_PORT });
            await sleep(WARMUP_S * 1000);
            const sinkNs = toServer ? b : a;
            const r0 = from.received;
            const t0 = to.sent;
            const cpu0 = cpuSnapshot();
            const s0 = await sinkCount(lab, sinkNs, 'iobench_vx', 'sink');
            const e0 = Date.now();
            await sleep(WINDOW_S * 1000);
            const s1 = await sinkCount(lab, sinkNs, 'iobench_vx', 'sink');
            const e1 = Date.now();
            const cpu = cpuUsageSince(cpu0);
            const seconds = (s1.at - s0.at) / 1000;
            const run: VxlanRun = {
              backend,
              direction,
              sinkRate: (s1.datagrams - s0.datagrams) / seconds,
              offered: offeredFrom(blaster, e0, e1),
              portReceived: (from.received - r0) / seconds,
              portSent: (to.sent - t0) / seconds,
              cpu,
              drops: { ...from.stats().drops, ...Object.fromEntries(Object.entries(to.stats().drops).map(([n, v]) => [`out:${n}`, v])) },
            };
            vxlanRuns.push(run);
            progress(
              `vxlan ${backend} ${direction}: ${k(run.sinkRate)} frames/s at the sink, port in ${k(run.portReceived)}/s out ${k(run.portSent)}/s, offered ${k(run.offered.rate)}/s, chain host ${fixed(cpu.mainThread)} cores + ${fixed(cpu.otherThreads)} other threads (${k(run.sinkRate / (cpu.mainThread + cpu.otherThreads))}/CPU-s)`,
            );
          } finally {
            await blaster?.kill();
            await loop.stop();
          }
          await sleep(200);
        }
        await inside.close();
        await outside.close();
        ports.length = 0;
        // The native socket's fd is closed by libuv on a later loop turn (after close() resolved): let it go before the next back end binds the same ports.
        await sleep(100);
      }
    }
  } finally {
    for (const p of ports) await p.close().catch(() => undefined);
    if (chain !== undefined) {
      const report = await chain.shutdown();
      leaks = String(report.leaks.length);
    }
    const report = await lab.destroy();
    rmSync(storeDir, { recursive: true, force: true });
    if (report.errors.length > 0 || report.leftovers.length > 0) notes.push(`lab cleanup problems: ${JSON.stringify(report)}`);
    progress(`lab removed (${report.removed} resources, ${report.errors.length} errors, ${report.leftovers.length} leftovers)`);
  }
  return buildReport(receiveRuns, forwardRuns, vxlanRuns, leaks, load, notes);
}

function buildReport(receiveRuns: ReceiveRun[], forwardRuns: ForwardRun[], vxlanRuns: VxlanRun[], leaks: string, load: string, notes: string[]): SuiteReport {
  const native = loadNativeAddon();
  const tables: ResultTable[] = [];
  const targets: SuiteReport['targets'] = [];
  const window = `${WINDOW_S} s window after ${WARMUP_S} s warm-up`;
  tables.push({
    title: 'Setup',
    columns: ['default socket back end (`auto`)', 'native addon', 'net.core.rmem_max', 'load average at start (1 / 5 / 15 min)'],
    rows: [[`**${defaultUdpBackend()}**`, native.available ? native.path : `not available: ${native.reason}`, readSysctl('net/core/rmem_max'), load]],
  });

  if (receiveRuns.length > 0) {
    const base = receiveRuns.find((r) => r.config.key === 'dgram');
    const basePerCpu = base !== undefined ? perCpu(base.result.received, base.result) : NaN;
    const baseWall = base !== undefined ? base.result.received / base.result.seconds : NaN;
    tables.push({
      title: `1. Receive, ${PAYLOAD}-byte UDP, sender in A blasting at B over veth (${window}; receiver's own process CPU)`,
      columns: ['path', 'batch', 'received/s (wall)', 'receiver CPU (cores)', 'received per CPU-second', '÷ dgram per CPU-s', '÷ dgram wall', 'offered by sender/s', 'RcvbufErrors/s in B', 'user share of CPU'],
      rows: receiveRuns.map(({ config: c, result: r, offered }) => [
        c.label,
        c.path === 'dgram' ? '—' : c.batch,
        k(r.received / r.seconds),
        fixed(cpuSeconds(r) / r.seconds),
        k(perCpu(r.received, r)),
        c.key === 'dgram' ? '1×' : ratio(perCpu(r.received, r) / basePerCpu),
        c.key === 'dgram' ? '1×' : ratio(r.received / r.seconds / baseWall),
        k(offered.rate),
        k((r.udp.RcvbufErrors ?? 0) / r.seconds) + (r.queueDrops > 0 ? ` (+${k(r.queueDrops / r.seconds)} queue drops)` : ''),
        `${((r.userSeconds / Math.max(cpuSeconds(r), 1e-9)) * 100).toFixed(0)} %`,
      ]),
    });
    const n64 = receiveRuns.find((r) => r.config.key === 'native-64');
    if (n64 !== undefined) {
      const x = perCpu(n64.result.received, n64.result) / basePerCpu;
      targets.push({ name: 'receive per CPU-second: native batch 64 ÷ dgram', target: `≥ ${TARGET_RATIO}×`, measured: `${ratio(x)} (${k(perCpu(n64.result.received, n64.result))} vs ${k(basePerCpu)})`, met: x >= TARGET_RATIO });
    }
  }

  if (forwardRuns.length > 0) {
    const base = forwardRuns.find((r) => r.config.key === 'dgram');
    const fwd = (r: ForwardRun): number => (Number.isFinite(r.sinkRate) ? r.sinkRate : r.result.sent / r.result.seconds);
    const fwdPerCpu = (r: ForwardRun): number => perCpu(fwd(r) * r.result.seconds, r.result);
    const basePerCpu = base !== undefined ? fwdPerCpu(base) : NaN;
    const baseWall = base !== undefined ? fwd(base) : NaN;
    tables.push({
      title: `2. Receive → send (forward) in B to a sink in A, ${PAYLOAD}-byte UDP (${window}; forwarded = counted by nft at the sink's ingress; forwarder's own process CPU)`,
      columns: ['path', 'batch', 'GSO', 'forwarded/s (wall, at sink)', 'forwarder sent/s', 'forwarder CPU (cores)', 'forwarded per CPU-second', '÷ dgram per CPU-s', '÷ dgram wall', 'offered by sender/s', 'RcvbufErrors/s in B', 'send errors'],
      rows: forwardRuns.map((r) => [
        r.config.label,
        r.config.path === 'dgram' ? '—' : r.config.batch,
        r.config.gso ? 'on' : 'off',
        k(fwd(r)) + (r.config.gso && Number.isFinite(r.sinkPackets) ? ` (in ${k(r.sinkPackets)} GSO packets/s)` : ''),
        k(r.result.sent / r.result.seconds),
        fixed(cpuSeconds(r.result) / r.result.seconds),
        k(fwdPerCpu(r)),
        r.config.key === 'dgram' ? '1×' : ratio(fwdPerCpu(r) / basePerCpu),
        r.config.key === 'dgram' ? '1×' : ratio(fwd(r) / baseWall),
        k(r.offered.rate),
        k((r.result.udp.RcvbufErrors ?? 0) / r.result.seconds) + (r.result.queueDrops > 0 ? ` (+${k(r.result.queueDrops / r.result.seconds)} queue drops)` : ''),
        r.result.sendErrors,
      ]),
    });
    const g = forwardRuns.find((r) => r.config.key === 'native-64-gso');
    if (g !== undefined) {
      const x = fwdPerCpu(g) / basePerCpu;
      targets.push({ name: 'forward per CPU-second: native batch 64 + GSO ÷ dgram', target: `≥ ${TARGET_RATIO}×`, measured: `${ratio(x)} (${k(fwdPerCpu(g))} vs ${k(basePerCpu)})`, met: x >= TARGET_RATIO });
      targets.push({ name: 'forward per core: native batch 64 + GSO', target: `≥ ${k(TARGET_FORWARD_PER_CORE)} datagrams per CPU-second`, measured: `${k(fwdPerCpu(g))} (${k(fwd(g))}/s wall)`, met: fwdPerCpu(g) >= TARGET_FORWARD_PER_CORE });
    }
  }

  if (vxlanRuns.length > 0) {
    const by = (b: UdpBackend, d: VxlanRun['direction']) => vxlanRuns.find((r) => r.backend === b && r.direction === d);
    tables.push({
      title: `3. UDP through a pass-through chain between two VxlanPorts (kernel VXLAN devices in A and B, chain host in the root namespace; ${window})`,
      columns: ['socket back end', 'direction', 'frames/s at the sink', '÷ dgram', 'port received/s', 'port sent/s', 'offered by sender/s', 'chain host thread (cores)', 'other bench threads (cores)', 'frames per CPU-second of the bench process', '÷ dgram per CPU-s', 'machine idle (cores)', 'port drops (whole run)'],
      rows: vxlanRuns.map((r) => {
        const d = by('dgram', r.direction);
        const perCpuOf = (x: VxlanRun): number => x.sinkRate / (x.cpu.mainThread + x.cpu.otherThreads);
        return [
          r.backend,
          r.direction,
          k(r.sinkRate),
          r.backend === 'dgram' ? '1×' : ratio(d !== undefined ? r.sinkRate / d.sinkRate : NaN),
          k(r.portReceived),
          k(r.portSent),
          k(r.offered.rate),
          fixed(r.cpu.mainThread),
          fixed(r.cpu.otherThreads),
          k(perCpuOf(r)),
          r.backend === 'dgram' ? '1×' : ratio(d !== undefined ? perCpuOf(r) / perCpuOf(d) : NaN),
          fixed(r.cpu.system.idle),
          Object.keys(r.drops).length === 0 ? '—' : Object.entries(r.drops).map(([n, v]) => `${n} ${v}`).join(', '),
        ];
      }),
    });
    targets.push({ name: 'leaked pool buffers after the VXLAN runs', target: '0', measured: leaks, met: leaks === '0' });
  }

  notes.unshift(
    `Topology: lab namespaces A (${A_IP}/30) and B (${B_IP}/30) joined by one veth pair; every sender, receiver and forwarder is its own Node process (tsx) in its namespace. The sender uses the native addon (${BLAST_BATCH} rows per sendmmsg, UDP_SEGMENT runs of 64) so it offers more than any receive path takes; the excess shows up as RcvbufErrors.`,
    'Per CPU-second = datagrams ÷ (user + system CPU of the receiving or forwarding process over the window, process.cpuUsage()). Kernel work done in softirq on another core (most of veth delivery runs on the sender\'s core) is not in it; softirq that lands on the process\'s own core while it runs may be charged to it.',
    'Wall-clock rates are bounded by the sender where RcvbufErrors are ~0 (the receiver kept up): the sender and the receiver share the 2 cores, so a receiver using less CPU leaves the sender more. The per-CPU-second figures are the comparison.',
    'Receive loops: the native and batched paths drain up to 4096 datagrams per readiness callback (batch rows per call) and go back to the event loop; dgram handles its \'message\' events. Every socket asks for a 4 MiB SO_RCVBUF (net.core.rmem_max caps it).',
    'Forwarding: the forwarder sends each datagram to a sink port in A where an nft rule counts and drops it at the veth\'s ingress hook (before IP; veth runs A\'s receive of it in the forwarder\'s sendmmsg, so that part is in the forwarder\'s CPU; with GSO one packet carries up to 64 datagrams, counted from the bytes, and the sink drops it whole: a receiving socket, or a NIC without UDP segmentation offload, would pay for splitting it); the batched paths send from the same pool rows they received into, and stop receiving while the socket would block. The dgram baseline sends from its message handler without a callback.',
    'VXLAN: the chain (one pass-through instance, a worker thread) and its two VxlanPorts run in this bench process, driven as the controller drives socket-fed ends: PumpLoop with 50 µs slices, woken by the ports\' onReadable (ChainDataPlane.runUntil uses the same loop). Frames at the sink are datagrams counted by an nft rule at the ingress of the receiving namespace\'s VXLAN device; the sender, the chain host thread, the instance thread and the kernel share 2 cores. Port drops include the first frames held while the gateway resolved ARP (hold_queue_full) and the kernel\'s drops at the port\'s socket (socket_rcvbuf).',
    `Machine shared with other work; load average at start ${load}. Targets are judged on one run: repeat it on a quiet machine before trusting them.`,
  );
  return { suite: 'io', tables, targets, notes };
}

/** The `io` benchmark suite (see the module documentation). */
export const ioSuite: BenchSuite = {
  name: 'io',
  description: 'batched UDP I/O over veth between namespaces: receive and forward pps (dgram vs addon batch 1–256, GSO) and a pass-through chain over VXLAN, per CPU-second',
  async run(progress) {
    const probe = await canCreateNamespaces();
    if (!probe.ok) {
      progress(`skipped: ${probe.reason}`);
      return { suite: 'io', tables: [], targets: [], notes: [`not run: ${probe.reason}`] };
    }
    const native = loadNativeAddon();
    if (!native.available) {
      progress(`skipped: the sender needs the native addon: ${native.reason}`);
      return { suite: 'io', tables: [], targets: [], notes: [`not run: the sender needs the native addon, which is not available: ${native.reason}`, `Default socket back end on this machine: ${defaultUdpBackend()}.`] };
    }
    return measure(progress);
  },
};
