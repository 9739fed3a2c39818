import { describe, expect, it } from 'vitest';
import { registerBuiltinFunctions } from '../../../functions/index.ts';
import { ConfigValidationError } from '../../../src/errors/catalog.ts';
import { FunctionRegistry } from '../../../src/pipeline/function-registry.ts';
import { chainSpecDigest } from '../../../src/spec/chain-spec-digest.ts';
import { parseChainSpec } from '../../../src/spec/parse-chain-spec.ts';
import { SPEC_LIMITS } from '../../../src/spec/spec-limits.ts';

const registry = registerBuiltinFunctions(new FunctionRegistry());

function spec(backends: number, checks: string): string {
  const list = Array.from({ length: backends }, (_, i) => `{ address: 198.19.${i >> 8}.${i & 255}, port: 8080 }`).join(', ');
  return `apiVersion: nfvkit.dev/v1
kind: ServiceFunctionChain
metadata: { name: hc }
spec:
  ingress: { type: generator }
  egress: { type: sink }
  functions:
    - name: lb
      function: load-balancer
      config:
        services:
          - { name: web, vip: 198.18.0.100, port: 80, backends: [${list}] }
      healthChecks: ${checks}
`;
}

function problems(text: string): string[] {
  try {
    parseChainSpec(text, 'hc.yaml', registry);
  } catch (err) {
    if (err instanceof ConfigValidationError) return err.message.split('\n').slice(1).map((l) => l.trim());
    throw err;
  }
  return [];
}

describe('chain spec health checks', () => {
  it('fills the defaults: tcp, path /, every 2 s, timeout 1 s, rise 2, fall 3', () => {
    const parsed = parseChainSpec(spec(2, '[{ service: web }]'), 'hc.yaml', registry);
    expect(parsed.spec.functions[0].healthChecks).toEqual([{ service: 'web', protocol: 'tcp', path: '/', intervalSeconds: 2, timeoutSeconds: 1, rise: 2, fall: 3, addresses: {} }]);
    const http = parseChainSpec(spec(2, '[{ service: web, protocol: http, path: /healthz, intervalSeconds: 0.2, fall: 2, port: 9000, addresses: { "198.19.0.1:8080": 10.0.0.1 } }]'), 'hc.yaml', registry);
    expect(http.spec.functions[0].healthChecks[0]).toMatchObject({ protocol: 'http', path: '/healthz', intervalSeconds: 0.2, timeoutSeconds: 0.1, fall: 2, port: 9000, addresses: { '198.19.0.1:8080': '10.0.0.1' } });
  });

  it('probes at an IPv6 address when one is given (the controller probes with node:net); an IPv6 backend key must name a backend', () => {
    const v6 = parseChainSpec(spec(2, '[{ service: web, addresses: { "198.19.0.1:8080": "2001:db8:ff::1", "198.19.0.0:8080": "::ffff:10.0.0.1" } }]'), 'hc.yaml', registry);
    expect(v6.spec.functions[0].healthChecks[0].addresses).toEqual({ '198.19.0.1:8080': '2001:db8:ff::1', '198.19.0.0:8080': '::ffff:10.0.0.1' });
    expect(problems(spec(2, '[{ service: web, addresses: { "198.19.0.1:8080": "fe80::1%eth0", "[2001:db8::1]:8080": 10.0.0.1 } }]'))).toEqual([
      'hc.yaml:13:70 spec.functions[0].healthChecks[0].addresses.198.19.0.1:8080: not an IPv6 address: zone id "%eth0" not accepted: it names an interface of one host; write the address without it',
      'hc.yaml:13:86 spec.functions[0].healthChecks[0].addresses.[2001:db8::1]:8080: service "web" has no backend [2001:db8::1]:8080; it has 198.19.0.0:8080, 198.19.0.1:8080',
    ]);
  });

  it('changes the chain digest only when checks are declared (specs without checks keep their digests)', () => {
    const none = parseChainSpec(spec(2, '[]'), 'hc.yaml', registry);
    const some = parseChainSpec(spec(2, '[{ service: web }]'), 'hc.yaml', registry);
    const withoutField = parseChainSpec(spec(2, '[]').replace(/\n\s+healthChecks: \[\]\n/, '\n'), 'hc.yaml', registry);
    expect(chainSpecDigest(none)).toBe(chainSpecDigest(withoutField));
    expect(chainSpecDigest(some)).not.toBe(chainSpecDigest(none));
  });

  it(`refuses more than ${SPEC_LIMITS.healthProbesPerSecond.value} probes per second over the chain, at the interval that passes it`, () => {
    // 21 backends every 0.1 s: 210 probes per second.
    expect(problems(spec(21, '[{ service: web, intervalSeconds: 0.1 }]'))).toEqual([
      `hc.yaml:13:55 spec.functions[0].healthChecks[0].intervalSeconds: health checks up to here probe 210 probes per second (checked backends ÷ intervalSeconds, summed over the chain), the limit is 200 (limit healthProbesPerSecond); probe less often or fewer backends`,
    ]);
    expect(problems(spec(20, '[{ service: web, intervalSeconds: 0.1 }]'))).toEqual([]);
  });

  it(`refuses more than ${SPEC_LIMITS.healthChecksPerFunction.value} checks in one function`, () => {
    const many = `[${Array.from({ length: SPEC_LIMITS.healthChecksPerFunction.value + 1 }, () => '{ service: web }').join(', ')}]`;
    const found = problems(spec(1, many));
    expect(found[0]).toMatch(/^hc\.yaml:13:21 spec\.functions\[0\]\.healthChecks: at most 16 health checks per function \(limit healthChecksPerFunction\)$/);
  });
});
