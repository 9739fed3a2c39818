import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { registerBuiltinFunctions } from '../../../functions/index.ts';
import type { ChainEndContext } from '../../../src/controller/chain-ends.ts';
import { DataDir } from '../../../src/controller/data-dir.ts';
import { createDataPlanePool } from '../../../src/dataplane/chain-data-plane.ts';
import { ConfigValidationError, InvalidArgumentError } from '../../../src/errors/catalog.ts';
import { FunctionRegistry } from '../../../src/pipeline/function-registry.ts';
import { BUILTIN_PORT_TYPES, BUILTIN_PORTS, registerBuiltinPorts } from '../../../src/ports/builtin-ports.ts';
import { PortRegistry } from '../../../src/ports/port-registry.ts';
import { sinkPortType } from '../../../src/ports/sink.ts';
import { chainSpecJsonSchema } from '../../../src/spec/chain-spec-json-schema.ts';
import { parseChainSpec } from '../../../src/spec/parse-chain-spec.ts';
import { portSpecSchema } from '../../../src/spec/port-spec.ts';

/** A free UDP port on 127.0.0.1 (bound and released: the VXLAN spec refuses port 0). */
async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address();
  s.close();
  return port;
}

/** Field paths of zod issues, an unknown key's own path included (as the spec reports it). */
function paths(issues: readonly { path: PropertyKey[]; code: string; keys?: string[] }[]): string[] {
  return issues.flatMap((i) => (i.code === 'unrecognized_keys' ? (i.keys ?? []).map((k) => [...i.path, k].join('.')) : [i.path.join('.')]));
}

/** Per built-in port type: a valid spec, and a bad value with the path the schema must name. */
const CASES: Record<string, { valid: () => Promise<Record<string, unknown>>; bad: Record<string, unknown>; badPath: string }> = {
  generator: { valid: async () => ({ type: 'generator', flows: 4, packetSize: 64, protocol: 'udp', total: 4 }), bad: { type: 'generator', packetSize: 59 }, badPath: 'packetSize' },
  sink: { valid: async () => ({ type: 'sink' }), bad: { type: 'sink', frames: 1 }, badPath: 'frames' },
  responder: { valid: async () => ({ type: 'responder' }), bad: { type: 'responder', answer: 'syn' }, badPath: 'answer' },
  pcap: { valid: async () => ({ type: 'pcap', write: 'out.pcap' }), bad: { type: 'pcap', read: '' }, badPath: 'read' },
  vxlan: {
    valid: async () => ({
      type: 'vxlan',
      listen: { address: '127.0.0.1', port: await freeUdpPort() },
      gateway: { addresses: ['198.18.1.1/24'] },
      peers: [{ name: 'client', vni: 100, remote: '127.0.0.1', port: 4789, subnets: ['198.18.1.0/24'] }],
    }),
    bad: { type: 'vxlan', listen: { address: '127.0.0.1' }, gateway: { addresses: ['198.18.1.1/24'] }, peers: [{ name: 'client', vni: 0, remote: '127.0.0.1', subnets: ['198.18.1.0/24'] }] },
    badPath: 'peers.0.vni',
  },
};

describe('port registry: each port type owns its schema and factory, registered once', () => {
  it('registers the built-in port types in the order of the spec schema, each with a case here', () => {
    expect(BUILTIN_PORTS.names()).toEqual(['generator', 'sink', 'responder', 'pcap', 'vxlan']);
    expect(BUILTIN_PORTS.names()).toEqual(BUILTIN_PORT_TYPES.map((t) => t.type));
    expect(Object.keys(CASES).sort()).toEqual([...BUILTIN_PORTS.names()].sort());
    // The chain spec's ingress/egress are the registry's union: its JSON Schema lists the same types.
    const schema = chainSpecJsonSchema(registerBuiltinFunctions(new FunctionRegistry())) as { properties: { spec: { properties: { ingress: { oneOf?: { properties: { type: { const: string } } }[]; anyOf?: { properties: { type: { const: string } } }[] } } } } };
    const branches = schema.properties.spec.properties.ingress.oneOf ?? schema.properties.spec.properties.ingress.anyOf ?? [];
    expect(branches.map((b) => b.properties.type.const)).toEqual(BUILTIN_PORTS.names());
  });

  it.each(BUILTIN_PORT_TYPES.map((t) => [t.type, t] as const))('%s: its schema refuses a bad field with its path, the spec schema too', async (type, portType) => {
    const { bad, badPath } = CASES[type];
    const own = portType.schema.safeParse(bad);
    expect(own.success).toBe(false);
    expect(paths(own.error!.issues)).toContain(badPath);
    const union = portSpecSchema.safeParse(bad);
    expect(paths(union.error!.issues)).toContain(badPath);
    expect(paths(portType.schema.safeParse({ ...(await CASES[type].valid()), unknownField: 1 }).error!.issues)).toEqual(['unknownField']);
  });

  it.each(BUILTIN_PORT_TYPES.map((t) => [t.type, t] as const))('%s: its factory opens the end of a valid spec', async (type, portType) => {
    const root = mkdtempSync(join(tmpdir(), 'nfvkit-ports-'));
    const pool = createDataPlanePool(256, 'worker');
    const context: ChainEndContext = { chain: 'c', side: 'outside', dataDir: DataDir.resolve({ dataDir: root }), pool };
    try {
      const spec = portType.schema.parse(await CASES[type].valid());
      const end = await BUILTIN_PORTS.get(type).open(spec as never, context);
      try {
        expect(typeof end.port.fill).toBe('function');
        expect(typeof end.port.take).toBe('function');
        expect(typeof end.stats()).toBe('object');
      } finally {
        await end.close();
      }
      if (type === 'pcap') expect(readFileSync(join(root, 'write', 'out.pcap')).readUInt32LE(0)).toBe(0xa1b2c3d4);
      if (type === 'vxlan') expect(end.drops?.().gateway).toBeDefined();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('runs each port type’s rules across fields with positions in a chain spec', () => {
    const registry = registerBuiltinFunctions(new FunctionRegistry());
    const spec = `apiVersion: nfvkit.dev/v1
kind: ServiceFunctionChain
metadata: { name: c }
spec:
  ingress: { type: pcap }
  egress:
    type: vxlan
    listen: { address: 127.0.0.1 }
    gateway: { addresses: [198.18.1.1/24] }
    peers:
      - { name: a, vni: 100, remote: 127.0.0.2, subnets: [198.18.1.0/24] }
      - { name: a, vni: 100, remote: 127.0.0.3, subnets: [198.18.2.0/24] }
  functions: [{ name: p, function: pass-through }]
`;
    let err: unknown;
    try {
      parseChainSpec(spec, 'c.yaml', registry);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigValidationError);
    const issues = (err as ConfigValidationError).issues.map((i) => `${i.line}:${i.column} ${i.path}: ${i.message}`);
    expect(issues).toEqual([
      '5:12 spec.ingress: a pcap port needs `read`, `write` or both',
      '12:17 spec.egress.peers[1].name: duplicate peer name "a" (also peers[0])',
      '12:25 spec.egress.peers[1].vni: VNI 100 is already used by peers[0]',
    ]);
  });

  it('refuses a port type registered twice and names the known ones for an unknown type', () => {
    expect(() => registerBuiltinPorts(new PortRegistry()).register(sinkPortType)).toThrow(/port type "sink" is registered twice/);
    expect(() => BUILTIN_PORTS.get('tap')).toThrow(InvalidArgumentError);
    expect(() => BUILTIN_PORTS.get('tap')).toThrow('unknown port type "tap"; known: generator, sink, responder, pcap, vxlan');
    expect(BUILTIN_PORTS.check({ type: 'tap' }, ['spec', 'ingress'])).toEqual([]);
    expect(() => new PortRegistry().schema()).toThrow(/no port type is registered/);
  });
});
