import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { registerBuiltinFunctions } from '../../../functions/index.ts';
import type { ChainEndContext } from '../../../src/controller/chain-ends.ts';
import { DataDir } from '../../../src/controller/data-dir.ts';
import { createDataPlanePool } from '../../../src/dataplane/chain-data-plane.ts';
import { ConfigValidationError } from '../../../src/errors/catalog.ts';
import { verifyTcpChecksumIpv6, verifyUdpChecksumIpv6 } from '../../../src/packet/checksum-ipv6.ts';
import { FrameLayout } from '../../../src/packet/frame-layout.ts';
import { parseFrame } from '../../../src/packet/parse-frame.ts';
import { FunctionRegistry } from '../../../src/pipeline/function-registry.ts';
import { generatorPortType } from '../../../src/ports/generator.ts';
import { parseChainSpec } from '../../../src/spec/parse-chain-spec.ts';

/** Opens a generator end of `fields` and returns the first `n` frames it sends, parsed. */
async function frames(fields: Record<string, unknown>, n: number) {
  const root = mkdtempSync(join(tmpdir(), 'nfvkit-gen-'));
  const pool = createDataPlanePool(256, 'worker');
  const context: ChainEndContext = { chain: 'c', side: 'inside', dataDir: DataDir.resolve({ dataDir: root }), pool };
  try {
    const end = await generatorPortType.open(generatorPortType.schema.parse({ type: 'generator', ...fields }), context);
    const ids = new Uint32Array(n);
    const got = end.port.fill(pool, ids, n);
    const out = Array.from(ids.subarray(0, got), (id) => {
      const L = new FrameLayout();
      const off = pool.dataOffset(id);
      const len = pool.meta.length[id];
      expect(parseFrame(pool.view, off, len, L)).toBe(0);
      const words = (at: number) => [0, 1, 2, 3].map((i) => pool.view.getUint32(at + 4 * i));
      return {
        ethertype: L.ethertype,
        proto: L.ipProto,
        len,
        src: words(L.l3Offset + 8),
        dst: words(L.l3Offset + 24),
        sport: pool.view.getUint16(L.l4Offset),
        dport: pool.view.getUint16(L.l4Offset + 2),
        flags: L.ipProto === 6 ? pool.view.getUint8(L.l4Offset + 13) : 0,
        checksumOk: L.ipProto === 6 ? verifyTcpChecksumIpv6(pool.view, L.l3Offset, L.l4Offset, len - 54) : verifyUdpChecksumIpv6(pool.view, L.l3Offset, L.l4Offset, len - 54),
      };
    });
    pool.freeBatch(ids, got);
    await end.close();
    return out;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

describe('generator port, IPv6', () => {
  it('sends IPv6 TCP SYNs from the clients prefix to the service, checksums valid', async () => {
    const syns = await frames({ flows: 3, protocol: 'tcp', clients: '2001:db8:1::/64', service: '[2001:db8:2::100]:80' }, 3);
    expect(syns.map((f) => [f.ethertype, f.proto, f.flags, f.dport, f.checksumOk])).toEqual(Array(3).fill([0x86dd, 6, 0x02, 80, true]));
    expect(syns.map((f) => f.src)).toEqual([1, 2, 3].map((h) => [0x20010db8, 0x00010000, 0, h]));
    expect(syns.every((f) => f.dst.join() === [0x20010db8, 0x00020000, 0, 0x100].join())).toBe(true);
    expect(syns[0].len).toBe(74);
  });

  it('sends IPv6 UDP of the asked size, spreading flows over hosts then ports in a small prefix', async () => {
    const udp = await frames({ flows: 4, protocol: 'udp', packetSize: 128, clients: '2001:db8:1::/126', service: '[2001:db8:2::100]:53' }, 4);
    expect(udp.map((f) => [f.proto, f.len, f.checksumOk])).toEqual(Array(4).fill([17, 128, true]));
    expect(udp.map((f) => [f.src[3], f.sport])).toEqual([[1, 10000], [2, 10000], [1, 10001], [2, 10001]]);
  });

  it('refuses clients and a service of different families, at the service', () => {
    const registry = registerBuiltinFunctions(new FunctionRegistry());
    const spec = `apiVersion: nfvkit.dev/v1
kind: ServiceFunctionChain
metadata: { name: c }
spec:
  ingress: { type: generator, clients: "2001:db8:1::/64", service: "198.18.2.100:80" }
  egress: { type: responder }
  functions:
    - { name: p, function: pass-through }
`;
    let err: unknown;
    try {
      parseChainSpec(spec, 'mixed.yaml', registry);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigValidationError);
    expect((err as ConfigValidationError).issues.map((i) => `${i.line}:${i.column} ${i.path}: ${i.message}`)).toEqual([
      '5:68 spec.ingress.service: an IPv4 service for IPv6 clients (2001:db8:1::/64): both must be one family',
    ]);
  });

  it('refuses a malformed endpoint with the message naming both forms', () => {
    const r = generatorPortType.schema.safeParse({ type: 'generator', service: '[2001:db8::zz]:80' });
    expect(r.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['service', 'not an address:port (e.g. "198.18.2.100:80" or "[2001:db8::1]:80", port 1-65535)']]);
  });
});
