import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { registerBuiltinFunctions } from '../../../functions/index.ts';
import type { LoadBalancerConfig } from '../../../functions/load-balancer/config.ts';
import type { NatConfig } from '../../../functions/nat/config.ts';
import { parseIpv4 } from '../../../src/packet/ipv4.ts';
import { compilePipeline } from '../../../src/pipeline/compiler.ts';
import { FunctionRegistry } from '../../../src/pipeline/function-registry.ts';
import { loadChainSpec } from '../../../src/spec/parse-chain-spec.ts';
import type { VxlanPortSpec } from '../../../src/spec/port-spec.ts';

const dir = fileURLToPath(new URL('../../../topologies/', import.meta.url));
const registry = registerBuiltinFunctions(new FunctionRegistry());
const ip = (s: string) => parseIpv4(s) as number;

describe('example topologies', () => {
  it.each(readdirSync(dir).filter((f) => f.endsWith('.yaml')))('%s parses and every function compiles', (file) => {
    const spec = loadChainSpec(`${dir}${file}`, registry);
    expect(spec.metadata.name).toBe(file.replace(/\.yaml$/, ''));
    for (const fn of spec.spec.functions) {
      expect(fn.function).toBeDefined();
      expect(compilePipeline(registry.get(fn.function!), fn.rawConfig).name).toBe(fn.function);
    }
  });

  it('web-edge.yaml is firewall → load balancer → NAT between the generator and the responder', () => {
    const spec = loadChainSpec(`${dir}web-edge.yaml`, registry);
    expect(spec.spec.ingress).toMatchObject({ type: 'generator', protocol: 'tcp', clients: '198.18.1.0/24', service: '198.18.2.100:80' });
    expect(spec.spec.egress).toEqual({ type: 'responder' });
    expect(spec.spec.functions.map((f) => [f.name, f.function])).toEqual([
      ['fw', 'firewall'],
      ['lb', 'load-balancer'],
      ['nat', 'nat'],
    ]);
    for (const fn of spec.spec.functions) expect(fn.scaling).toMatchObject({ min: 1, max: 4 });
    const lb = spec.spec.functions[1].config as LoadBalancerConfig;
    expect(lb.services[0]).toMatchObject({ vip: { family: 4, addr: ip('198.18.2.100') }, port: 80, proto: 6 });
    expect(lb.services[0].backends.map((b) => [b.address, b.port])).toEqual(['198.18.3.11', '198.18.3.12', '198.18.3.13'].map((a) => [{ family: 4, addr: ip(a) }, 8080]));
    const nat = spec.spec.functions[2].config as NatConfig;
    expect(nat.snat?.addresses).toEqual({ addr: ip('198.18.3.1'), prefix: 32, mask: 0xffffffff });
  });

  it('web-edge-vxlan.yaml runs the same functions between two VXLAN gateways', () => {
    const plain = loadChainSpec(`${dir}web-edge.yaml`, registry);
    const spec = loadChainSpec(`${dir}web-edge-vxlan.yaml`, registry);
    expect(spec.spec.functions.map((f) => f.function)).toEqual(plain.spec.functions.map((f) => f.function));
    const ingress = spec.spec.ingress as VxlanPortSpec;
    const egress = spec.spec.egress as VxlanPortSpec;
    expect(ingress.type).toBe('vxlan');
    expect(ingress.gateway.addresses).toEqual(['198.18.1.1/24', '198.18.2.100/32', '2001:db8:1::1/64', '2001:db8:2::100/128']);
    expect(ingress.peers).toHaveLength(1);
    expect(egress.gateway.addresses).toEqual(['198.18.3.1/24', '198.18.3.2/32', '2001:db8:3::1/64']);
    expect(egress.peers.map((p) => [p.subnets, p.port])).toEqual([11, 12, 13].map((n) => [[`198.18.3.${n}/32`, `2001:db8:3::${n}/128`], 4789]));
    expect(new Set(egress.peers.map((p) => p.vni)).size).toBe(3);
    // Documentation ranges only: 198.18.0.0/15, 2001:db8::/32 (and the NAT64 well-known prefix).
    const all = [ingress, egress].flatMap((p) => [p.listen.address, ...p.gateway.addresses, ...p.peers.flatMap((q) => [q.remote, ...q.subnets])]);
    for (const a of all) {
      if (a.includes(':')) expect(a, a).toMatch(/^2001:db8:/);
      else expect((ip(a.split('/')[0]) & 0xfffe0000) >>> 0, a).toBe(ip('198.18.0.0'));
    }
    // Dual stack: an IPv6 service beside the IPv4 one, and NAT64 for IPv6 clients.
    const lb = spec.spec.functions[1].config as LoadBalancerConfig;
    expect(lb.services.map((x) => x.name)).toEqual(['web', 'web6']);
    const nat = spec.spec.functions[2].config as NatConfig;
    expect(nat.nat64).toBeDefined();
  });

  it('web-edge-v6.yaml is web-edge.yaml over IPv6: IPv6 clients, VIP and backends', () => {
    const plain = loadChainSpec(`${dir}web-edge.yaml`, registry);
    const spec = loadChainSpec(`${dir}web-edge-v6.yaml`, registry);
    expect(spec.spec.functions.map((f) => [f.name, f.function])).toEqual(plain.spec.functions.map((f) => [f.name, f.function]));
    expect(spec.spec.ingress).toMatchObject({ type: 'generator', protocol: 'tcp', clients: '2001:db8:1::/64', service: '[2001:db8:2::100]:80' });
    expect(spec.spec.egress).toEqual({ type: 'responder' });
    const lb = spec.spec.functions[1].config as LoadBalancerConfig;
    expect(lb.services).toHaveLength(1);
    expect(lb.services[0].backends).toHaveLength(3);
  });
});
