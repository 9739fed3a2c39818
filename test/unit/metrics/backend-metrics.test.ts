import { describe, expect, it } from 'vitest';
import { NfvkitMetrics, type BackendMetricEntry } from '../../../src/metrics/nfvkit-metrics.ts';

const row = (backend: string, more: Partial<BackendMetricEntry> = {}): BackendMetricEntry => ({ chain: 'web', function: 'lb', service: 'www', backend, state: 'active', health: 'up', effective: 'active', connections: 3, ...more });

describe('backend gauges', () => {
  it('export each backend’s live connections and its state, health and effective state, read at scrape time', async () => {
    const metrics = new NfvkitMetrics();
    let rows = [row('198.19.0.1:80'), row('198.19.0.2:80', { health: 'down', effective: 'draining', connections: 0 }), row('198.19.0.3:80', { state: 'removed', effective: 'removed', connections: Number.NaN })];
    metrics.setBackends(() => rows);
    const text = await metrics.registry.metrics();
    expect(text).toContain('nfvkit_backend_connections{chain="web",function="lb",service="www",backend="198.19.0.1:80"} 3');
    expect(text).toContain('nfvkit_backend_connections{chain="web",function="lb",service="www",backend="198.19.0.3:80"} 0');
    expect(text).toContain('nfvkit_backend_info{chain="web",function="lb",service="www",backend="198.19.0.2:80",state="active",health="down",effective="draining"} 1');
    expect(text).toContain('nfvkit_backend_info{chain="web",function="lb",service="www",backend="198.19.0.3:80",state="removed",health="up",effective="removed"} 1');
    rows = [];
    metrics.setBackends(() => rows);
    expect(await metrics.registry.metrics()).not.toMatch(/nfvkit_backend_\w+\{/);
    metrics.setBackends(() => {
      throw new Error('chain torn down');
    });
    expect(await metrics.registry.metrics()).not.toMatch(/nfvkit_backend_\w+\{/);
  });
});
