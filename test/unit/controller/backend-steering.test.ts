import { afterEach, describe, expect, it, vi } from 'vitest';
import { lbBackends } from '../../../functions/load-balancer/lb-backends.ts';
import { loadBalancerConfigSchema, type LoadBalancerConfigInput } from '../../../functions/load-balancer/config.ts';
import { BackendState } from '../../../src/backends/backend-control-layout.ts';
import type { ProbeTarget } from '../../../src/backends/health-probe.ts';
import { BackendSteering } from '../../../src/controller/backend-steering.ts';
import type { EventInput } from '../../../src/controller/event-log.ts';
import { NotFoundError } from '../../../src/errors/catalog.ts';
import type { HealthCheckSpec } from '../../../src/spec/chain-spec.ts';

const config = (backends: LoadBalancerConfigInput['services'][number]['backends']) =>
  loadBalancerConfigSchema.parse({ services: [{ name: 'web', vip: '198.18.0.100', port: 80, backends }], maglevTableSize: 251 });
const THREE = [{ address: '198.19.0.1' }, { address: '198.19.0.2', state: 'draining' as const }, { address: '198.19.0.3' }];
const heap = (n: number) => new SharedArrayBuffer(n);
const CHECK: HealthCheckSpec = { service: 'web', protocol: 'tcp', path: '/', intervalSeconds: 0.1, timeoutSeconds: 0.05, rise: 2, fall: 2, addresses: { '198.19.0.3:80': '10.0.0.3' } };

afterEach(() => vi.useRealTimers());

describe('BackendSteering (the controller’s side of a function with backends)', () => {
  it('starts from the configured states, writes each change to every image’s array, and records it', () => {
    const events: EventInput[] = [];
    const s = new BackendSteering('c', 'lb', lbBackends, config(THREE), [], (e) => events.push(e));
    const a = s.blockFor('/img/a', heap);
    expect([0, 1, 2].map((i) => a.state(i))).toEqual([BackendState.ACTIVE, BackendState.DRAINING, BackendState.ACTIVE]);
    expect(s.setState('web', '198.19.0.3:80', 'removed', 'test')).toBe(true);
    expect(s.setState('web', '198.19.0.3', 'removed', 'test')).toBe(false);
    // An image booted later gets the wanted states from the start.
    const b = s.blockFor('/img/b', heap);
    expect(b.state(2)).toBe(BackendState.REMOVED);
    expect(a.state(2)).toBe(BackendState.REMOVED);
    s.setState('web', '198.19.0.2:80', 'active', 'test');
    expect([a.state(1), b.state(1)]).toEqual([BackendState.ACTIVE, BackendState.ACTIVE]);
    expect(events.map((e) => [e.type, e.details?.backend, e.details?.from, e.details?.to])).toEqual([
      ['backend-state', '198.19.0.3:80', 'active', 'removed'],
      ['backend-state', '198.19.0.2:80', 'draining', 'active'],
    ]);
    expect(() => s.setState('api', '198.19.0.1:80', 'draining', 'test')).toThrow(NotFoundError);
    expect(() => s.setState('web', '198.19.0.9:80', 'draining', 'test')).toThrow(/has no backend 198\.19\.0\.9:80; it has 198\.19\.0\.1:80, 198\.19\.0\.2:80, 198\.19\.0\.3:80/);
    const released: SharedArrayBuffer[] = [];
    s.forgetImages(new Set(['/img/b']), (sab) => released.push(sab));
    expect(released).toEqual([a.buffer]);
  });

  it('keeps run-time states across a new configuration unless the configuration changed them; new backends start as configured', () => {
    const s = new BackendSteering('c', 'lb', lbBackends, config(THREE), [], () => undefined);
    s.setState('web', '198.19.0.1:80', 'draining', 'test');
    s.configure(config([{ address: '198.19.0.1' }, { address: '198.19.0.2' }, { address: '198.19.0.4', state: 'draining' }]), []);
    const rows = s.status([]);
    expect(rows.map((r) => [r.backend, r.state])).toEqual([
      ['198.19.0.1:80', 'draining'],
      ['198.19.0.2:80', 'active'],
      ['198.19.0.4:80', 'draining'],
    ]);
  });

  it('sums connections and new flows per backend over instances, each by its own image’s numbering', () => {
    const s = new BackendSteering('c', 'lb', lbBackends, config(THREE), [], () => undefined);
    s.blockFor('/img/a', heap);
    s.configure(config([{ address: '198.19.0.3' }, { address: '198.19.0.1' }]), []);
    s.blockFor('/img/b', heap);
    const counters = (values: Record<string, number>) => (name: string) => values[name] ?? 0;
    const rows = s.status([
      { imagePath: '/img/a', counter: counters({ connections_backend_0: 5, connections_backend_2: 7, new_flows_backend_2: 9 }) },
      { imagePath: '/img/b', counter: counters({ connections_backend_0: 1, connections_backend_1: 2, new_flows_backend_1: 4 }) },
      { imagePath: '/img/unknown', counter: counters({ connections_backend_0: 100 }) },
    ]);
    expect(rows.map((r) => [r.backend, r.connections, r.newFlows])).toEqual([
      ['198.19.0.3:80', 8, 9],
      ['198.19.0.1:80', 7, 4],
    ]);
  });

  it('takes a backend whose probes fail out as draining, within interval × fall, and back in after rise good probes; events say so', async () => {
    vi.useFakeTimers({ now: 0 });
    const failing = new Set<string>();
    const probed: ProbeTarget[] = [];
    const events: (EventInput & { at: number })[] = [];
    const s = new BackendSteering('c', 'lb', lbBackends, config(THREE), [CHECK], (e) => events.push({ ...e, at: Date.now() }), async (t) => {
      probed.push(t);
      return failing.has(t.address) ? { ok: false, detail: 'ECONNREFUSED' } : { ok: true, detail: 'connected' };
    });
    const block = s.blockFor('/img/a', heap);
    s.start();
    await vi.advanceTimersByTimeAsync(300);
    expect(s.status([]).map((r) => r.health)).toEqual(['up', 'up', 'up']);
    expect(new Set(probed.map((p) => `${p.address}:${p.port}`))).toEqual(new Set(['198.19.0.1:80', '198.19.0.2:80', '10.0.0.3:80']));
    failing.add('10.0.0.3');
    const from = Date.now();
    await vi.advanceTimersByTimeAsync(250);
    const down = events.find((e) => e.type === 'backend-health')!;
    expect(down).toMatchObject({ function: 'lb', details: { backend: '198.19.0.3:80', from: 'up', to: 'down', detail: 'ECONNREFUSED', probes: 2, effective: 'draining' } });
    expect(down.at - from).toBeLessThanOrEqual(100 * 2);
    expect(block.state(2)).toBe(BackendState.DRAINING);
    expect(s.status([])[2]).toMatchObject({ state: 'active', health: 'down', effective: 'draining', healthDetail: 'ECONNREFUSED' });
    // An image booted while the backend is down starts with it out.
    expect(s.blockFor('/img/b', heap).state(2)).toBe(BackendState.DRAINING);
    // An operator's state wins over health: removed stays removed when the backend comes back.
    s.setState('web', '198.19.0.3:80', 'removed', 'test');
    failing.clear();
    await vi.advanceTimersByTimeAsync(250);
    expect(events.filter((e) => e.type === 'backend-health').map((e) => e.details?.to)).toEqual(['down', 'up']);
    expect(block.state(2)).toBe(BackendState.REMOVED);
    s.setState('web', '198.19.0.3:80', 'active', 'test');
    expect(block.state(2)).toBe(BackendState.ACTIVE);
    s.stop();
    const n = probed.length;
    await vi.advanceTimersByTimeAsync(500);
    expect(probed.length).toBe(n);
  });
});
