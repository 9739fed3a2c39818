import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage } from '../../../src/image/image-builder.ts';
import { ImageStore } from '../../../src/image/image-store.ts';
import type { InstanceStatsSource } from '../../../src/metrics/instance-stats-source.ts';
import { startMetricsServer, type MetricsServer } from '../../../src/metrics/metrics-server.ts';
import { NfvkitMetrics } from '../../../src/metrics/nfvkit-metrics.ts';
import { receiveQueueOccupancy } from '../../../src/metrics/queue-occupancy.ts';
import { RateSampler } from '../../../src/metrics/rate-sampler.ts';
import { IpProto } from '../../../src/packet/ipv4.ts';
import { BuiltinCounter } from '../../../src/pipeline/compiled-pipeline.ts';
import { Side } from '../../../src/pipeline/verdict.ts';
import { PacketPool } from '../../../src/pool/packet-pool.ts';
import { InstanceHost } from '../../../src/runtime/instance-host.ts';
import { buildFrame } from '../../../src/traffic/frame-builder.ts';
import { firewall } from '../../../functions/firewall/pipeline.ts';
import { parseExposition, valueOf, type Exposition } from '../../unit/metrics/exposition.ts';

const udp = (dstPort: number, flow: number): Uint8Array =>
  buildFrame({ proto: IpProto.UDP, srcIp: 0xc6120100 + flow, dstIp: 0xc6130001, srcPort: 10000 + flow, dstPort, payloadLength: 18 });

function badChecksum(flow: number): Uint8Array {
  const frame = udp(80, flow);
  frame[14 + 10] ^= 0xff;
  return frame;
}

const TEMPLATES = [...Array.from({ length: 6 }, (_, i) => udp(80, i)), udp(81, 100), badChecksum(200)];
const ID = 'edge/fw-0';
const LABELS = { chain: 'edge', function: 'fw', instance: ID };

class Traffic {
  stop = false;
  sent = 0;
  out = 0;
  private readonly done: Promise<void>;

  constructor(private readonly host: InstanceHost) {
    this.done = this.pump();
  }

  private async pump(): Promise<void> {
    const { host } = this;
    const ids = new Uint32Array(64);
    const out = new Uint32Array(256);
    while (!this.stop && host.state === 'running') {
      const n = host.pool.allocBatch(ids, Math.min(ids.length, host.eth0.rxRoom()));
      for (let i = 0; i < n; i++) {
        const frame = TEMPLATES[(this.sent + i) % TEMPLATES.length];
        host.pool.copyIn(ids[i], frame, 0, frame.length);
      }
      host.eth0.deliverRx(ids, n);
      this.sent += n;
      for (const end of [host.eth0, host.eth1]) {
        const k = end.pollTx(out, out.length);
        if (k > 0) host.pool.freeBatch(out, k);
        this.out += k;
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  async finish(): Promise<void> {
    this.stop = true;
    await this.done;
  }
}

async function until(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error('condition not met in time');
    await new Promise<void>((resolve) => setTimeout(resolve, 5));
  }
}

async function scrape(url: string): Promise<Exposition> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  const exp = parseExposition(await res.text());
  expect(exp.problems).toEqual([]);
  return exp;
}

describe('metrics of a real firewall instance under traffic, scraped over HTTP', () => {
  const root = mkdtempSync(join(tmpdir(), 'nfvkit-metrics-it-'));
  const pool = PacketPool.create({ bufferCount: 4096, owner: 1 });
  const metrics = new NfvkitMetrics();
  let host: InstanceHost;
  let source: InstanceStatsSource;
  let server: MetricsServer;
  let traffic: Traffic | undefined;

  beforeAll(async () => {
    const image = await buildImage(
      firewall,
      { defaultPolicy: 'drop', rules: [{ name: 'web', action: 'allow', side: 'inside', proto: 'udp', dport: 80 }] },
      { store: ImageStore.open(root) },
    );
    host = await InstanceHost.boot({ imagePath: image.imagePath, manifest: image.manifest, pool, owner: 10 });
    expect(host.state, JSON.stringify(host.failure)).toBe('running');
    source = {
      id: ID,
      chain: 'edge',
      function: 'fw',
      counters: host.counters,
      counterInfo: image.manifest.counters,
      queueOccupancy: (side) => receiveQueueOccupancy(side === Side.INSIDE ? host.eth0 : host.eth1),
    };
    metrics.setSources(() => (host.state === 'running' ? [source] : []));
    metrics.setInstances(() => [{ chain: 'edge', function: 'fw', state: host.state === 'running' ? 'ready' : 'stopped' }]);
    metrics.instanceBooted({ chain: 'edge', function: 'fw' }, host.bootMs / 1000, 'cold');
    server = await startMetricsServer(metrics, { host: '127.0.0.1', port: 0 });
  }, 30_000);

  afterAll(async () => {
    await traffic?.finish();
    await server?.close();
    if (host !== undefined) await host.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('finds packet, byte and drop counters moving between two scrapes, and sampled rates above zero', async () => {
    const sampler = new RateSampler(() => [source]);
    const c = host.counters;
    traffic = new Traffic(host);
    sampler.sample(performance.now());
    await until(() => c[BuiltinCounter.RX_INSIDE_PACKETS] >= 2000);
    const first = await scrape(server.url);
    const rx1 = valueOf(first, 'nfvkit_function_packets_total', { ...LABELS, side: 'inside', direction: 'rx' });
    expect(rx1).toBeGreaterThanOrEqual(2000);
    await until(() => c[BuiltinCounter.RX_INSIDE_PACKETS] >= rx1 + 4000);
    const rates = sampler.sample(performance.now());
    const second = await scrape(server.url);
    const live = c[BuiltinCounter.RX_INSIDE_PACKETS];

    const rx2 = valueOf(second, 'nfvkit_function_packets_total', { ...LABELS, side: 'inside', direction: 'rx' });
    expect(rx2).toBeGreaterThanOrEqual(rx1 + 4000);
    expect(rx2).toBeLessThanOrEqual(live);
    for (const [name, side, direction] of [
      ['nfvkit_function_packets_total', 'outside', 'tx'],
      ['nfvkit_function_bytes_total', 'inside', 'rx'],
      ['nfvkit_function_bytes_total', 'outside', 'tx'],
    ] as const) {
      expect(valueOf(second, name, { ...LABELS, side, direction }), `${name} ${side} ${direction}`).toBeGreaterThan(valueOf(first, name, { ...LABELS, side, direction }));
    }
    expect(valueOf(second, 'nfvkit_function_packets_total', { ...LABELS, side: 'outside', direction: 'rx' })).toBe(0);
    for (const reason of ['default_policy', 'ipv4_bad_checksum']) {
      expect(valueOf(second, 'nfvkit_function_drops_total', { ...LABELS, reason }), reason).toBeGreaterThan(valueOf(first, 'nfvkit_function_drops_total', { ...LABELS, reason }));
    }
    expect(valueOf(second, 'nfvkit_function_drops_total', { ...LABELS, reason: 'acl_denied' })).toBe(0);
    for (const side of ['inside', 'outside']) {
      const occ = valueOf(second, 'nfvkit_queue_occupancy_ratio', { ...LABELS, side });
      expect(occ).toBeGreaterThanOrEqual(0);
      expect(occ).toBeLessThanOrEqual(1);
    }
    expect(valueOf(second, 'nfvkit_instances', { function: 'fw', state: 'ready' })).toBe(1);
    expect(valueOf(second, 'nfvkit_instance_boot_seconds_count', { function: 'fw', mode: 'cold' })).toBe(1);

    expect(rates).toHaveLength(1);
    const [r] = rates;
    expect(r.instance).toBe(ID);
    expect(r.rxPps).toBeGreaterThan(0);
    expect(r.txPps).toBeGreaterThan(0);
    expect(r.dropPps).toBeGreaterThan(0);
    expect(r.rxBps).toBeGreaterThan(r.rxPps * 50);
    expect(r.queueOccupancy).toBeGreaterThanOrEqual(0);
    expect(r.queueOccupancy).toBeLessThanOrEqual(1);
  });

  it('shows the instance gone from the per-instance series once it has stopped', async () => {
    await traffic?.finish();
    await host.stop();
    expect(host.state).toBe('stopped');
    const exp = await scrape(server.url);
    expect(exp.families.get('nfvkit_function_packets_total')?.samples).toEqual([]);
    expect(valueOf(exp, 'nfvkit_instances', { function: 'fw', state: 'stopped' })).toBe(1);
    expect(pool.leakCheck().filter((b) => b.owner === 10 || b.owner === 11)).toEqual([]);
  });
});
