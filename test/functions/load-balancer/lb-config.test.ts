import { describe, expect, it } from 'vitest';
import { ConfigValidationError } from '../../../src/errors/catalog.ts';
import { compilePipeline } from '../../../src/pipeline/compiler.ts';
import { loadBalancer } from '../../../functions/load-balancer/pipeline.ts';
import { loadBalancerConfigSchema } from '../../../functions/load-balancer/config.ts';
import { lbPlanSchema, planLoadBalancer } from '../../../functions/load-balancer/service-plan.ts';

function issues(raw: unknown): Array<{ path: string; message: string }> {
  try {
    compilePipeline(loadBalancer, raw);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigValidationError);
    return [...(err as ConfigValidationError).issues];
  }
  throw new Error('config was accepted');
}

const web = { vip: '198.18.0.100', port: 80, backends: [{ address: '198.19.0.1' }] };

describe('load-balancer config', () => {
  it('fills defaults: backend port = service port, weight 1, active, tcp, Maglev 65537', () => {
    const cfg = loadBalancerConfigSchema.parse({ services: [web] });
    const plan = planLoadBalancer(cfg);
    expect(plan.tableSize).toBe(65537);
    expect(plan.clientSide).toBe(0);
    expect(plan.nonVipDrop).toBe(false);
    expect(plan.conntrack).toEqual({ capacity: 65536, timeouts: {}, whenFull: 'evict' });
    expect(plan.services).toEqual([{ name: '198.18.0.100:80/tcp', family: 4, vip: [0xc6120064], port: 80, proto: 6, first: 0, count: 1 }]);
    expect(plan.backends).toEqual([{ name: '198.19.0.1:80', service: 0, address: [0xc6130001], port: 80, weight: 1, state: 0 }]);
  });

  it('reports structural problems with their field paths', () => {
    const found = issues({
      services: [
        { vip: '198.18.0.300', port: 80, backends: [] },
        { vip: '198.18.0.1', port: 70000, proto: 'sctp', backends: [{ address: '198.19.0.1', weight: 0 }, { address: '198.19.0.2', weight: 1.5, state: 'sleepy' }] },
      ],
      maglevTableSize: 65536,
      conntrack: { capacity: 1000, timeouts: { tcpForever: 1, udpAssured: -1 } },
      extra: true,
    });
    const paths = found.map((i) => i.path).sort();
    expect(paths).toEqual(
      [
        '',
        'conntrack.capacity',
        'conntrack.timeouts',
        'conntrack.timeouts.udpAssured',
        'maglevTableSize',
        'services[0].backends',
        'services[0].vip',
        'services[1].backends[0].weight',
        'services[1].backends[1].state',
        'services[1].backends[1].weight',
        'services[1].port',
        'services[1].proto',
      ].sort(),
    );
    expect(found.find((i) => i.path === 'maglevTableSize')?.message).toMatch(/prime/);
    expect(found.find((i) => i.path === 'services[0].backends')?.message).toMatch(/at least one backend/);
  });

  it('reports cross-field problems: duplicate VIPs, names and backends, a backend that is a VIP, tables too small', () => {
    const found = issues({
      services: [
        { ...web, name: 'a' },
        { ...web, name: 'b', backends: [{ address: '198.19.0.1', port: 8080 }, { address: '198.19.0.1', port: 8080 }, { address: '198.19.0.9' }] },
        { vip: '198.18.0.100', port: 80, proto: 'udp', name: 'a', backends: [{ address: '198.18.0.100', port: 80 }] },
        { vip: '198.18.0.101', port: 80, backends: [{ address: '198.18.0.100' }] },
      ],
      maglevTableSize: 2,
    });
    expect(found.map((i) => i.path).sort()).toEqual(
      ['services[1].vip', 'services[2].name', 'services[1].backends', 'services[1].backends[1]', 'services[2].backends[0].address', 'services[3].backends[0].address'].sort(),
    );
    expect(found.find((i) => i.path === 'services[1].vip')?.message).toMatch(/duplicate VIP 198\.18\.0\.100:80\/tcp \(also services\[0\]\)/);
    expect(found.find((i) => i.path === 'services[3].backends[0].address')?.message).toMatch(/also a VIP/);
  });

  it('compiles the same config to the same source, and a changed one to another', () => {
    const a = compilePipeline(loadBalancer, { services: [web], maglevTableSize: 251 });
    const b = compilePipeline(loadBalancer, { services: [web], maglevTableSize: 251 });
    const c = compilePipeline(loadBalancer, { services: [{ ...web, backends: [{ address: '198.19.0.1', state: 'draining' }] }], maglevTableSize: 251 });
    expect(a.source).toBe(b.source);
    expect(c.sourceHash).not.toBe(a.sourceHash);
    expect(a.counters.filter((k) => k.name.startsWith('new_flows_backend_')).map((k) => k.help)).toEqual(['new flows sent to backend 198.19.0.1:80/tcp of service 198.18.0.100:80/tcp']);
  });
});

describe('load-balancer config: IPv6', () => {
  const web6 = { vip: '2001:db8::100', port: 80, backends: [{ address: '2001:db8:1::1', port: 8080 }, { address: '2001:db8:1::2', port: 8080, weight: 2 }] };

  it('takes IPv6 services beside IPv4 ones: words in the plan, bracketed names', () => {
    const plan = planLoadBalancer(loadBalancerConfigSchema.parse({ services: [web, web6] }));
    expect(plan.services).toEqual([
      { name: '198.18.0.100:80/tcp', family: 4, vip: [0xc6120064], port: 80, proto: 6, first: 0, count: 1 },
      { name: '[2001:db8::100]:80/tcp', family: 6, vip: [0x20010db8, 0, 0, 0x100], port: 80, proto: 6, first: 1, count: 2 },
    ]);
    expect(plan.backends.slice(1)).toEqual([
      { name: '[2001:db8:1::1]:8080', service: 1, address: [0x20010db8, 0x10000, 0, 1], port: 8080, weight: 1, state: 0 },
      { name: '[2001:db8:1::2]:8080', service: 1, address: [0x20010db8, 0x10000, 0, 2], port: 8080, weight: 2, state: 0 },
    ]);
    const compiled = compilePipeline(loadBalancer, { services: [web, web6], maglevTableSize: 251 });
    expect(compiled.counters.filter((k) => k.name.startsWith('new_flows_backend_')).map((k) => k.help)).toEqual([
      'new flows sent to backend 198.19.0.1:80/tcp of service 198.18.0.100:80/tcp',
      'new flows sent to backend [2001:db8:1::1]:8080/tcp of service [2001:db8::100]:80/tcp',
      'new flows sent to backend [2001:db8:1::2]:8080/tcp of service [2001:db8::100]:80/tcp',
    ]);
  });

  it('refuses an IPv4-mapped address, which no packet carries', () => {
    expect(issues({ services: [web, { vip: '198.18.0.102', port: 80, backends: [{ address: '::ffff:198.19.0.3' }] }] }).map((i) => [i.path, i.message])).toEqual([
      ['services[1].backends[0].address', '::ffff:198.19.0.3 is an IPv4-mapped IPv6 address, which no packet carries: write the IPv4 address'],
    ]);
  });

  it('refuses a service mixing families, at the backend; duplicates compare IPv6 values, not text', () => {
    const found = issues({
      services: [
        web,
        { vip: '2001:db8::100', port: 80, backends: [{ address: '2001:db8:1::1' }, { address: '198.19.0.2' }] },
        { vip: '198.18.0.101', port: 80, backends: [{ address: '198.19.0.3' }, { address: '2001:db8:1::3' }] },
        { vip: '2001:db8::100', port: 80, backends: [{ address: '2001:db8:1::4' }] },
        { vip: '2001:db8::101', port: 80, backends: [{ address: '2001:DB8::100', port: 80 }] },
        { vip: '2001:db8::102', port: 80, backends: [{ address: '2001:db8:1::5' }, { address: '2001:db8:1:0::5' }] },
      ],
    }).map((i) => [i.path, i.message]);
    expect(found.sort()).toEqual(
      [
        ['services[1].backends[1].address', "backend 198.19.0.2 is IPv4 but the service's VIP 2001:db8::100 is IPv6: a service balances within one family (make an IPv4 service beside it)"],
        ['services[2].backends[1].address', "backend 2001:db8:1::3 is IPv6 but the service's VIP 198.18.0.101 is IPv4: a service balances within one family (make an IPv6 service beside it)"],
        ['services[3].vip', 'duplicate VIP [2001:db8::100]:80/tcp (also services[1])'],
        ['services[3].name', 'duplicate service name "[2001:db8::100]:80/tcp" (also services[1])'],
        ['services[4].backends[0].address', 'backend [2001:db8::100]:80/tcp is also a VIP'],
        ['services[5].backends[1]', 'duplicate backend [2001:db8:1::5]:80/tcp (also backends[0])'],
      ].sort(),
    );
  });

  it('the element refuses a plan whose VIP or backend words do not fit the service family', () => {
    const plan = planLoadBalancer(loadBalancerConfigSchema.parse({ services: [web, web6] }));
    expect(lbPlanSchema.safeParse(plan).success).toBe(true);
    const issuesOf = (p: unknown) => lbPlanSchema.safeParse(p).error?.issues.map((i) => i.path.join('.'));
    expect(issuesOf({ ...plan, backends: [{ ...plan.backends[0], address: [1, 2, 3, 4] }, ...plan.backends.slice(1)] })).toEqual(['backends.0.address']);
    expect(issuesOf({ ...plan, services: [{ ...plan.services[0], family: 6 }, plan.services[1]] })).toEqual(['services.0.vip']);
  });

  it('says what is wrong with a malformed IPv6 address, and compares it with nothing', () => {
    const bad = { vip: '2001:db8:::1', port: 80, backends: [{ address: '2001:db8::1' }] };
    expect(issues({ services: [bad, bad] }).map((i) => [i.path, i.message])).toEqual([
      ['services[0].vip', 'not an IPv6 address: ":::" is not a form: "::" stands for the zero groups'],
      ['services[1].vip', 'not an IPv6 address: ":::" is not a form: "::" stands for the zero groups'],
    ]);
  });
});
