import { register as globalRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createLoopStats, recordBatch } from '../../../src/metrics/loop-stats.ts';
import { INSTANCE_STATES, NfvkitMetrics } from '../../../src/metrics/nfvkit-metrics.ts';
import { BuiltinCounter } from '../../../src/pipeline/compiled-pipeline.ts';
import { parseExposition, valueOf } from './exposition.ts';
import { FakeSource } from './fake-source.ts';
import { SANDBOX_REASONS } from '../../../src/runtime/sandbox-reasons.ts';

const EXPECTED: Record<string, { type: string; labels: string[] }> = {
  nfvkit_function_packets_total: { type: 'counter', labels: ['chain', 'direction', 'function', 'instance', 'side'] },
  nfvkit_function_bytes_total: { type: 'counter', labels: ['chain', 'direction', 'function', 'instance', 'side'] },
  nfvkit_function_drops_total: { type: 'counter', labels: ['chain', 'function', 'instance', 'reason'] },
  nfvkit_sandbox_denied_total: { type: 'counter', labels: ['chain', 'function', 'instance', 'reason'] },
  nfvkit_dataplane_faults_total: { type: 'counter', labels: ['chain', 'kind'] },
  nfvkit_host_drops_total: { type: 'counter', labels: ['chain', 'function', 'reason'] },
  nfvkit_ring_drops_total: { type: 'counter', labels: ['chain', 'function', 'instance', 'reason', 'side'] },
  nfvkit_link_drops_total: { type: 'counter', labels: ['chain', 'function', 'instance', 'reason'] },
  nfvkit_port_drops_total: { type: 'counter', labels: ['chain', 'port', 'reason', 'side'] },
  nfvkit_gateway_drops_total: { type: 'counter', labels: ['chain', 'port', 'reason', 'side'] },
  nfvkit_queue_occupancy_ratio: { type: 'gauge', labels: ['chain', 'function', 'instance', 'side'] },
  nfvkit_batch_duration_seconds: { type: 'histogram', labels: ['chain', 'function', 'instance'] },
  nfvkit_instances: { type: 'gauge', labels: ['chain', 'function', 'state'] },
  nfvkit_instance_boot_seconds: { type: 'histogram', labels: ['chain', 'function', 'mode'] },
  nfvkit_scaling_events_total: { type: 'counter', labels: ['chain', 'direction', 'function', 'reason'] },
  nfvkit_controller_rpcs_total: { type: 'counter', labels: ['code', 'method'] },
  nfvkit_controller_rpc_duration_seconds: { type: 'histogram', labels: ['code', 'method'] },
  nfvkit_image_store_images: { type: 'gauge', labels: ['state'] },
  nfvkit_image_store_bytes: { type: 'gauge', labels: ['state'] },
  nfvkit_image_store_cap_bytes: { type: 'gauge', labels: [] },
  nfvkit_images_pruned_total: { type: 'counter', labels: ['reason'] },
  nfvkit_images_pruned_bytes_total: { type: 'counter', labels: ['reason'] },
  nfvkit_backend_connections: { type: 'gauge', labels: ['backend', 'chain', 'function', 'service'] },
  nfvkit_backend_info: { type: 'gauge', labels: ['backend', 'chain', 'effective', 'function', 'health', 'service', 'state'] },
};

async function scrape(metrics: NfvkitMetrics) {
  const exp = parseExposition(await metrics.metrics());
  expect(exp.problems).toEqual([]);
  return exp;
}

function populated() {
  const fw = new FakeSource('edge/fw-0');
  const nat = new FakeSource('edge/nat-0', 'edge', 'nat');
  fw.loopStats = createLoopStats();
  fw.sandboxDenied = new Int32Array(SANDBOX_REASONS.length);
  const metrics = new NfvkitMetrics();
  let sources = [fw, nat];
  metrics.setSources(() => sources);
  metrics.setInstances(() => [
    { chain: 'edge', function: 'fw', state: 'ready' },
    { chain: 'edge', function: 'fw', state: 'ready' },
    { chain: 'edge', function: 'fw', state: 'booting' },
    { chain: 'edge', function: 'nat', state: 'failed' },
  ]);
  metrics.instanceBooted({ chain: 'edge', function: 'fw' }, 0.04, 'cold');
  metrics.instanceBooted({ chain: 'edge', function: 'fw' }, 0.003, 'warm');
  metrics.scalingEvent({ chain: 'edge', function: 'fw' }, 'out', 'load');
  metrics.rpc('Apply', 'OK', 0.002);
  metrics.rpc('GetChain', 'NOT_FOUND', 0.0001);
  metrics.setChainFaults(() => [{ chain: 'edge', faults: { protocolViolations: 1, lockHeld: 0, lockUnattributed: 0, scrubbed: 12, caught: 1 } }]);
  let layerReads = 0;
  metrics.setLayerDrops(() => {
    layerReads++;
    return [
      { layer: 'host', chain: 'edge', function: 'fw', reason: 'no_instance', value: 2 },
      { layer: 'host', chain: 'edge', function: 'fw', reason: 'ownership', value: -1 },
      { layer: 'ring', chain: 'edge', function: 'fw', instance: 'edge/fw-0', side: 'inside', reason: 'rx_ring_full', value: 5 },
      { layer: 'link', chain: 'edge', function: 'fw', instance: 'edge/fw-0', reason: 'peer_full', value: 6 },
      { layer: 'port', chain: 'edge', side: 'inside', port: 'vxlan', reason: 'bad_flags', value: 3 },
      { layer: 'gateway', chain: 'edge', side: 'inside', port: 'vxlan', reason: 'no_route', value: 4 },
    ];
  });
  metrics.setImageStore(() => ({ images: 5, bytes: 5000, inUseImages: 2, inUseBytes: 1500, capBytes: 8000 }));
  metrics.imagesRemoved('unused', 3, 2400);
  metrics.setBackends(() => [{ chain: 'edge', function: 'lb', service: 'web', backend: '198.19.0.1:80', state: 'active', health: 'up', effective: 'active', connections: 2 }]);
  return { metrics, fw, nat, setSources: (s: FakeSource[]) => (sources = s), layerReads: () => layerReads };
}

describe('NfvkitMetrics', () => {
  it('exports every documented metric with its type, labels and HELP, in its own registry', async () => {
    const { metrics, fw } = populated();
    recordBatch(fw.loopStats!, 5000);
    const exp = await scrape(metrics);
    expect([...exp.families.keys()].sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const [name, { type, labels }] of Object.entries(EXPECTED)) {
      const f = exp.families.get(name)!;
      expect(f.type, name).toBe(type);
      expect(f.help?.length, name).toBeGreaterThan(10);
      expect(f.samples.length, name).toBeGreaterThan(0);
      for (const s of f.samples) expect(Object.keys(s.labels).filter((l) => l !== 'le').sort(), s.name).toEqual(labels);
    }
    expect(metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await globalRegistry.metrics()).not.toContain('nfvkit_');
  });

  it('reads packets and bytes per side and direction from the live counters at each scrape', async () => {
    const { metrics, fw } = populated();
    const at = (side: string, direction: string) => ({ instance: 'edge/fw-0', side, direction });
    let exp = await scrape(metrics);
    expect(valueOf(exp, 'nfvkit_function_packets_total', at('inside', 'rx'))).toBe(0);
    fw.traffic(1000, 990, 10, 64);
    fw.counters[BuiltinCounter.RX_OUTSIDE_PACKETS] = 7;
    fw.counters[BuiltinCounter.TX_INSIDE_BYTES] = 1234;
    exp = await scrape(metrics);
    expect(valueOf(exp, 'nfvkit_function_packets_total', at('inside', 'rx'))).toBe(1000);
    expect(valueOf(exp, 'nfvkit_function_packets_total', at('outside', 'tx'))).toBe(990);
    expect(valueOf(exp, 'nfvkit_function_packets_total', at('outside', 'rx'))).toBe(7);
    expect(valueOf(exp, 'nfvkit_function_packets_total', at('inside', 'tx'))).toBe(0);
    expect(valueOf(exp, 'nfvkit_function_bytes_total', at('inside', 'rx'))).toBe(64_000);
    expect(valueOf(exp, 'nfvkit_function_bytes_total', at('outside', 'tx'))).toBe(990 * 64);
    expect(valueOf(exp, 'nfvkit_function_bytes_total', at('inside', 'tx'))).toBe(1234);
    expect(valueOf(exp, 'nfvkit_function_packets_total', { instance: 'edge/nat-0', side: 'inside', direction: 'rx', function: 'nat' })).toBe(0);
  });

  it('exports the sandbox denials of instance processes by reason, nothing for instances without a sandbox', async () => {
    const { metrics, fw, nat } = populated();
    fw.sandboxDenied![SANDBOX_REASONS.indexOf('file')] = 2;
    fw.sandboxDenied![SANDBOX_REASONS.indexOf('signal')] = 1;
    const exp = await scrape(metrics);
    const samples = exp.families.get('nfvkit_sandbox_denied_total')!.samples;
    expect(samples.filter((s) => s.labels.instance === nat.id)).toEqual([]);
    const fwSamples = samples.filter((s) => s.labels.instance === 'edge/fw-0');
    expect(fwSamples.map((s) => s.labels.reason).sort()).toEqual([...SANDBOX_REASONS].sort());
    expect(Object.fromEntries(fwSamples.filter((s) => s.value > 0).map((s) => [s.labels.reason, s.value]))).toEqual({ file: 2, signal: 1 });
  });

  it('exports each chain\'s data-plane faults by kind', async () => {
    const { metrics } = populated();
    const exp = await scrape(metrics);
    const samples = exp.families.get('nfvkit_dataplane_faults_total')!.samples;
    expect(Object.fromEntries(samples.map((s) => [s.labels.kind, s.value]))).toEqual({ protocolViolations: 1, lockHeld: 0, lockUnattributed: 0, scrubbed: 12, caught: 1 });
    expect(new Set(samples.map((s) => s.labels.chain))).toEqual(new Set(['edge']));
  });

  it('exports the drops of the host, the rings, the direct links, the ports and the gateways, one provider read per scrape', async () => {
    const { metrics, layerReads } = populated();
    let exp = await scrape(metrics);
    expect(layerReads()).toBe(1);
    expect(valueOf(exp, 'nfvkit_host_drops_total', { chain: 'edge', function: 'fw', reason: 'no_instance' })).toBe(2);
    expect(valueOf(exp, 'nfvkit_host_drops_total', { chain: 'edge', function: 'fw', reason: 'ownership' })).toBe(0);
    expect(valueOf(exp, 'nfvkit_ring_drops_total', { function: 'fw', instance: 'edge/fw-0', side: 'inside', reason: 'rx_ring_full' })).toBe(5);
    expect(valueOf(exp, 'nfvkit_link_drops_total', { chain: 'edge', function: 'fw', instance: 'edge/fw-0', reason: 'peer_full' })).toBe(6);
    expect(valueOf(exp, 'nfvkit_port_drops_total', { side: 'inside', port: 'vxlan', reason: 'bad_flags' })).toBe(3);
    expect(valueOf(exp, 'nfvkit_gateway_drops_total', { side: 'inside', port: 'vxlan', reason: 'no_route' })).toBe(4);
    exp = await scrape(metrics);
    expect(layerReads()).toBe(2);
    metrics.setLayerDrops(() => {
      throw new Error('chain torn down');
    });
    exp = await scrape(metrics);
    expect(exp.families.get('nfvkit_host_drops_total')!.samples).toEqual([]);
  });

  it('exports one drop series per drop counter, none for other counters', async () => {
    const { metrics, fw } = populated();
    fw.traffic(0, 0, 42);
    fw.counters[9] = 3;
    const exp = await scrape(metrics);
    const fwDrops = exp.families.get('nfvkit_function_drops_total')!.samples.filter((s) => s.labels.instance === 'edge/fw-0');
    expect(fwDrops.map((s) => [s.labels.reason, s.value]).sort()).toEqual([['bad_checksum', 3], ['no_rule', 42]]);
  });

  it('drops the series of an instance that is gone and never exports NaN or negative counters', async () => {
    const { metrics, fw, nat, setSources } = populated();
    nat.counters[BuiltinCounter.RX_INSIDE_PACKETS] = Number.NaN;
    nat.counters[BuiltinCounter.TX_INSIDE_PACKETS] = -5;
    let exp = await scrape(metrics);
    expect(valueOf(exp, 'nfvkit_function_packets_total', { instance: 'edge/nat-0', side: 'inside', direction: 'rx' })).toBe(0);
    expect(valueOf(exp, 'nfvkit_function_packets_total', { instance: 'edge/nat-0', side: 'inside', direction: 'tx' })).toBe(0);
    setSources([fw]);
    exp = await scrape(metrics);
    const instances = new Set(exp.families.get('nfvkit_function_packets_total')!.samples.map((s) => s.labels.instance));
    expect([...instances]).toEqual(['edge/fw-0']);
    expect(exp.families.get('nfvkit_queue_occupancy_ratio')!.samples.every((s) => s.labels.instance === 'edge/fw-0')).toBe(true);
  });

  it('exports queue occupancy per side, clamped to 0..1', async () => {
    const { metrics, fw } = populated();
    fw.occupancy = [0.375, 3];
    const exp = await scrape(metrics);
    expect(valueOf(exp, 'nfvkit_queue_occupancy_ratio', { instance: 'edge/fw-0', side: 'inside' })).toBe(0.375);
    expect(valueOf(exp, 'nfvkit_queue_occupancy_ratio', { instance: 'edge/fw-0', side: 'outside' })).toBe(1);
  });

  it('exports the batch-time histogram from the loop statistics, only for instances that keep them', async () => {
    const { metrics, fw } = populated();
    for (const ns of [800, 1500, 3000, 3000, 2e9]) recordBatch(fw.loopStats!, ns);
    const exp = await scrape(metrics);
    const fwLabels = { instance: 'edge/fw-0' };
    expect(valueOf(exp, 'nfvkit_batch_duration_seconds_count', fwLabels)).toBe(5);
    expect(valueOf(exp, 'nfvkit_batch_duration_seconds_sum', fwLabels)).toBeCloseTo(2.0000083, 9);
    expect(valueOf(exp, 'nfvkit_batch_duration_seconds_bucket', { ...fwLabels, le: '0.000001' })).toBe(1);
    expect(valueOf(exp, 'nfvkit_batch_duration_seconds_bucket', { ...fwLabels, le: '0.000002' })).toBe(2);
    expect(valueOf(exp, 'nfvkit_batch_duration_seconds_bucket', { ...fwLabels, le: '0.000004' })).toBe(4);
    expect(valueOf(exp, 'nfvkit_batch_duration_seconds_bucket', { ...fwLabels, le: '1.048576' })).toBe(4);
    expect(valueOf(exp, 'nfvkit_batch_duration_seconds_bucket', { ...fwLabels, le: '+Inf' })).toBe(5);
    expect(exp.families.get('nfvkit_batch_duration_seconds')!.samples.some((s) => s.labels.instance === 'edge/nat-0')).toBe(false);
  });

  it('counts instances per function and state, with a zero series for every other state', async () => {
    const { metrics } = populated();
    const exp = await scrape(metrics);
    const fw = exp.families.get('nfvkit_instances')!.samples.filter((s) => s.labels.function === 'fw');
    expect(Object.fromEntries(fw.map((s) => [s.labels.state, s.value]))).toEqual({ booting: 1, ready: 2, draining: 0, stopped: 0, failed: 0 });
    expect(valueOf(exp, 'nfvkit_instances', { function: 'nat', state: 'failed' })).toBe(1);
    expect(exp.families.get('nfvkit_instances')!.samples.length).toBe(2 * INSTANCE_STATES.length);
  });

  it('records boots by mode, scaling events and RPCs with their durations; ignores non-finite durations', async () => {
    const { metrics } = populated();
    metrics.instanceBooted({ chain: 'edge', function: 'fw' }, Number.NaN, 'cold');
    metrics.instanceBooted({ chain: 'edge', function: 'fw' }, -1, 'cold');
    metrics.scalingEvent({ chain: 'edge', function: 'fw' }, 'out', 'load');
    metrics.scalingEvent({ chain: 'edge', function: 'fw' }, 'in', 'manual');
    metrics.rpc('Apply', 'OK', Number.POSITIVE_INFINITY);
    const exp = await scrape(metrics);
    expect(valueOf(exp, 'nfvkit_instance_boot_seconds_count', { mode: 'cold' })).toBe(1);
    expect(valueOf(exp, 'nfvkit_instance_boot_seconds_sum', { mode: 'cold' })).toBeCloseTo(0.04);
    expect(valueOf(exp, 'nfvkit_instance_boot_seconds_bucket', { mode: 'warm', le: '0.005' })).toBe(1);
    expect(valueOf(exp, 'nfvkit_instance_boot_seconds_bucket', { mode: 'cold', le: '0.025' })).toBe(0);
    expect(valueOf(exp, 'nfvkit_scaling_events_total', { direction: 'out', reason: 'load' })).toBe(2);
    expect(valueOf(exp, 'nfvkit_scaling_events_total', { direction: 'in', reason: 'manual' })).toBe(1);
    expect(valueOf(exp, 'nfvkit_controller_rpcs_total', { method: 'Apply', code: 'OK' })).toBe(2);
    expect(valueOf(exp, 'nfvkit_controller_rpc_duration_seconds_count', { method: 'Apply', code: 'OK' })).toBe(1);
    expect(valueOf(exp, 'nfvkit_controller_rpc_duration_seconds_bucket', { method: 'GetChain', code: 'NOT_FOUND', le: '0.0005' })).toBe(1);
  });

  it('exports the image store figures split by use, its cap, and the images removed by reason', async () => {
    const { metrics } = populated();
    metrics.imagesRemoved('cap', 1, 700);
    metrics.imagesRemoved('cap', 0, 0);
    let exp = await scrape(metrics);
    expect(valueOf(exp, 'nfvkit_image_store_images', { state: 'in_use' })).toBe(2);
    expect(valueOf(exp, 'nfvkit_image_store_images', { state: 'unused' })).toBe(3);
    expect(valueOf(exp, 'nfvkit_image_store_bytes', { state: 'in_use' })).toBe(1500);
    expect(valueOf(exp, 'nfvkit_image_store_bytes', { state: 'unused' })).toBe(3500);
    expect(valueOf(exp, 'nfvkit_image_store_cap_bytes', {})).toBe(8000);
    expect(valueOf(exp, 'nfvkit_images_pruned_total', { reason: 'unused' })).toBe(3);
    expect(valueOf(exp, 'nfvkit_images_pruned_total', { reason: 'cap' })).toBe(1);
    expect(valueOf(exp, 'nfvkit_images_pruned_bytes_total', { reason: 'cap' })).toBe(700);
    // No cap, then a store that cannot be read: a cap of 0, then no store series at all.
    metrics.setImageStore(() => ({ images: 1, bytes: 10, inUseImages: 1, inUseBytes: 10 }));
    exp = await scrape(metrics);
    expect(valueOf(exp, 'nfvkit_image_store_cap_bytes', {})).toBe(0);
    expect(valueOf(exp, 'nfvkit_image_store_images', { state: 'unused' })).toBe(0);
    metrics.setImageStore(() => {
      throw new Error('index being rewritten');
    });
    exp = await scrape(metrics);
    expect(exp.families.get('nfvkit_image_store_bytes')!.samples).toEqual([]);
  });

  it('exports nothing per instance before sources are set, and process metrics only when asked', async () => {
    const bare = new NfvkitMetrics();
    const exp = await scrape(bare);
    expect(exp.families.get('nfvkit_function_packets_total')!.samples).toEqual([]);
    expect(exp.families.has('process_cpu_seconds_total')).toBe(false);
    const withProcess = parseExposition(await new NfvkitMetrics({ processMetrics: true }).metrics());
    expect(withProcess.families.get('process_cpu_seconds_total')?.type).toBe('counter');
  });
});
