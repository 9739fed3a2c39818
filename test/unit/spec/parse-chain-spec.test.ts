import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { registerBuiltinFunctions } from '../../../functions/index.ts';
import { ConfigValidationError } from '../../../src/errors/catalog.ts';
import { MAX_IMAGE_MEMORY_MIB, MIN_IMAGE_MEMORY_MIB } from '../../../src/image/image-builder.ts';
import { FunctionRegistry } from '../../../src/pipeline/function-registry.ts';
import type { BuiltFunctionSpec, PrebuiltFunctionSpec } from '../../../src/spec/chain-spec.ts';
import { chainSpecDigest, functionSpecDigest } from '../../../src/spec/chain-spec-digest.ts';
import { loadChainSpec, MAX_REPORTED_ISSUES, parseChainSpec } from '../../../src/spec/parse-chain-spec.ts';
import { SPEC_MAX_MEMORY_MIB, SPEC_MIN_MEMORY_MIB } from '../../../src/spec/spec-values.ts';

const registry = registerBuiltinFunctions(new FunctionRegistry());

const BASE = `apiVersion: nfvkit.dev/v1
kind: ServiceFunctionChain
metadata:
  name: demo
spec:
  ingress: { type: generator }
  egress: { type: sink }
  functions:
    - name: nat
      function: nat
      config:
        snat: { addresses: 198.18.3.1/32, ports: "20000-20999" }
      scaling: { min: 2, target: 100000 }
      resources: { memory: 1Gi }
`;

const parse = (text: string) => parseChainSpec(text, 'demo.yaml', registry);

function issuesOf(text: string): string[] {
  try {
    parse(text);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigValidationError);
    return (err as ConfigValidationError).issues.map((i) => `${i.line}:${i.column} ${i.path || '(root)'}: ${i.message}`);
  }
  throw new Error('no error');
}

describe('parseChainSpec', () => {
  it('applies every default', () => {
    const spec = parse(BASE);
    expect(spec.metadata).toEqual({ name: 'demo', labels: {} });
    expect(spec.spec.ingress).toEqual({ type: 'generator', flows: 1024, packetSize: 64, protocol: 'tcp', clients: '198.18.1.0/24', service: '198.18.2.100:80' });
    expect(spec.spec.classifier).toBeUndefined();
    const nat = spec.spec.functions[0] as BuiltFunctionSpec;
    expect(nat.scaling).toEqual({ min: 2, max: 2, target: 100000, drainTimeoutSeconds: 30, cooldownSeconds: 10 });
    expect(nat.resources.memoryMiB).toBe(1024);
    expect(nat.rawConfig).toEqual({ snat: { addresses: '198.18.3.1/32', ports: '20000-20999' } });
    expect(nat.config).toMatchObject({ snat: { ports: { from: 20000, to: 20999 } } });
  });

  it("defaults memory to the function's own, and a left-out config to {}", () => {
    const spec = parse(BASE.replace('      resources: { memory: 1Gi }\n', '') + '    - { name: hop, function: pass-through }\n');
    expect(spec.spec.functions.map((f) => f.resources.memoryMiB)).toEqual([registry.get('nat').memoryMiB, registry.get('pass-through').memoryMiB]);
    expect(spec.spec.functions[1]).toMatchObject({ rawConfig: {}, config: { verifyL4Checksum: false } });
  });

  it('accepts a prebuilt image instead of function + config', () => {
    const spec = parse(BASE + '    - { name: cached, image: "3F2A9C0D", resources: { memory: 512 } }\n    - { name: plain, image: abcd0123 }\n');
    const [, cached, plain] = spec.spec.functions as [unknown, PrebuiltFunctionSpec, PrebuiltFunctionSpec];
    expect(cached).toMatchObject({ name: 'cached', image: '3f2a9c0d', resources: { memoryMiB: 512 } });
    expect(cached.function).toBeUndefined();
    expect(plain.resources.memoryMiB).toBeUndefined();
  });

  it('keeps the memory bounds of image-builder', () => {
    expect([SPEC_MIN_MEMORY_MIB, SPEC_MAX_MEMORY_MIB]).toEqual([MIN_IMAGE_MEMORY_MIB, MAX_IMAGE_MEMORY_MIB]);
  });

  it('reports a missing field at its nearest existing parent and an unknown one at its key', () => {
    expect(issuesOf(BASE.replace('  name: demo\n', '  labels: { a: b }\n'))).toEqual(['4:3 metadata.name: required']);
    expect(issuesOf(BASE.replace('      scaling: {', '      scalin: {'))).toEqual([
      '13:7 spec.functions[0].scalin: unknown field (known: name, function, image, config, scaling, healthChecks, resources)',
    ]);
  });

  it('reports schema, cross-field and config problems together, sorted by position', () => {
    const text = BASE.replace('min: 2', 'min: 3, max: 2').replace('198.18.3.1/32', '198.18.3.1/40').replace('type: sink', 'type: sink, x: 1');
    expect(issuesOf(text)).toEqual([
      '7:25 spec.egress.x: unknown field (known: type)',
      '12:28 spec.functions[0].config.snat.addresses: not an IPv4 CIDR block (a.b.c.d/len)',
      '13:23 spec.functions[0].scaling.min: min (3) > max (2)',
    ]);
  });

  it('reports YAML syntax errors alone, and never throws anything but ConfigValidationError', () => {
    expect(issuesOf(BASE + '  x: [\n')).toHaveLength(1);
    const laughs = ['a0: &a0 [x, x, x, x, x, x, x, x]', ...Array.from({ length: 8 }, (_, i) => `a${i + 1}: &a${i + 1} [${Array(8).fill(`*a${i}`).join(', ')}]`)];
    expect(issuesOf(laughs.join('\n'))).toEqual(['1:1 (root): YAML: Excessive alias count indicates a resource exhaustion attack']);
    for (let round = 0; round < 3; round++) {
      expect(issuesOf('['.repeat(3000) + ']'.repeat(3000))).toEqual(['1:101 (root): YAML: nested deeper than 100 levels']);
      expect(issuesOf('- '.repeat(3000) + 'x')).toEqual(['1:201 (root): YAML: nested deeper than 100 levels']);
      expect(issuesOf('a:\n' + Array.from({ length: 300 }, (_, i) => `${' '.repeat(i + 1)}b${i}:`).join('\n'))[0]).toMatch(/^10[12]:\d+ \(root\): YAML: nested deeper than 100 levels$/);
    }
  });

  it('caps long reports: ten YAML syntax errors, two hundred issues, each with a count of the rest', () => {
    const syntax = issuesOf('*:[\t' + BASE);
    expect(syntax).toHaveLength(11);
    expect(syntax[10]).toMatch(/ \(root\): YAML: \d+ more syntax error\(s\) from here on/);
    const rules = Array.from({ length: 250 }, (_, i) => `          - { action: allow, dst: 10.0.${i}.0/99, src: 10.1.${i}.0/99 }`).join('\n');
    const many = issuesOf(`${BASE}    - name: fw\n      function: firewall\n      config:\n        rules:\n${rules}\n`);
    expect(many).toHaveLength(MAX_REPORTED_ISSUES + 1);
    expect(many[MAX_REPORTED_ISSUES - 1]).toMatch(/ spec\.functions\[1\]\.config\.rules\[99\]\.src: not an IPv4 or IPv6 prefix/);
    expect(many[MAX_REPORTED_ISSUES]).toMatch(/ \(root\): 300 more problem\(s\) from here on, not listed$/);
  });

  it('names an unreadable file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nfvkit-spec-'));
    try {
      expect(() => loadChainSpec(join(dir, 'missing.yaml'), registry)).toThrow(ConfigValidationError);
      expect(() => loadChainSpec(join(dir, 'missing.yaml'), registry)).toThrow(`${join(dir, 'missing.yaml')} (root): cannot read the file: no such file`);
      expect(() => loadChainSpec(dir, registry)).toThrow('is a directory');
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

describe('chain spec digests', () => {
  const reordered = `# the same chain, written differently
kind: "ServiceFunctionChain"
apiVersion: nfvkit.dev/v1
spec:
  egress:
    type: sink
  functions:
    - resources: { memory: 1024 }
      scaling: { target: 100000, min: 2, max: 2, cooldownSeconds: 10 }
      config:
        snat:
          ports: 20000-20999
          addresses: "198.18.3.1/32"
      function: nat
      name: nat
  ingress: { type: generator, flows: 1024 }
metadata: { name: demo, labels: {} }
`;

  it('is the same for the same spec written differently', () => {
    expect(chainSpecDigest(parse(reordered))).toBe(chainSpecDigest(parse(BASE)));
    expect(functionSpecDigest(parse(reordered).spec.functions[0])).toBe(functionSpecDigest(parse(BASE).spec.functions[0]));
    expect(chainSpecDigest(parse(BASE))).toMatch(/^[0-9a-f]{64}$/);
  });

  it('changes with the spec; the function digest only with what changes its image', () => {
    const base = parse(BASE);
    const scaled = parse(BASE.replace('min: 2', 'min: 3'));
    expect(chainSpecDigest(scaled)).not.toBe(chainSpecDigest(base));
    expect(functionSpecDigest(scaled.spec.functions[0])).toBe(functionSpecDigest(base.spec.functions[0]));
    for (const changed of [BASE.replace('20999', '21000'), BASE.replace('1Gi', '2Gi'), BASE.replace('"20000-20999"', '"20000-20999", match: [198.18.1.0/24]')]) {
      const next = parse(changed);
      expect(functionSpecDigest(next.spec.functions[0])).not.toBe(functionSpecDigest(base.spec.functions[0]));
      expect(chainSpecDigest(next)).not.toBe(chainSpecDigest(base));
    }
  });
});
