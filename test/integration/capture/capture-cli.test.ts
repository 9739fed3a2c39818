import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerBuiltinFunctions } from '../../../functions/index.ts';
import { FrameTuple, readFrameTuple } from '../../../src/capture/frame-tuple.ts';
import { Controller } from '../../../src/controller/controller.ts';
import { startControllerServer, type ControllerServer } from '../../../src/grpc/controller-server.ts';
import { createControllerClient } from '../../../src/grpc/controller-client.ts';
import { ImageStore } from '../../../src/image/image-store.ts';
import { openCapture } from '../../../src/pcap/open-capture.ts';
import { FunctionRegistry } from '../../../src/pipeline/function-registry.ts';
import { runCaptured } from '../../unit/cli/run-captured.ts';

const dir = mkdtempSync(join(tmpdir(), 'nfvkit-capture-it-'));

const chainSpec = (name: string, placement: string) => `apiVersion: nfvkit.dev/v1
kind: ServiceFunctionChain
metadata:
  name: ${name}
spec:
  placement: ${placement}
  ingress: { type: generator, protocol: udp, flows: 200, clients: 198.18.1.0/24, service: "198.18.2.100:53", rate: 50000 }
  egress: { type: sink }
  functions:
    - name: a
      function: pass-through
    - name: b
      function: pass-through
`;

let controller: Controller;
let server: ControllerServer;

beforeAll(async () => {
  // Host ends: these tests watch frames enter and leave the chain through the host (ends in fused replicas refuse it).
  controller = await Controller.create({ registry: registerBuiltinFunctions(new FunctionRegistry()), store: ImageStore.open(join(dir, 'store')), warm: false, deleteTimeoutMs: 100, endsInReplicas: false });
  server = await startControllerServer(controller, { shutdownGraceMs: 500 });
  await controller.apply(chainSpec('cap-it', 'isolated'), 'cap-it.yaml');
  await controller.apply(chainSpec('cap-fused', 'fused'), 'cap-fused.yaml');
}, 60_000);

afterAll(async () => {
  await server?.close();
  await controller?.close(0);
  rmSync(dir, { recursive: true, force: true });
});

type Tuple = [string, string, number, number];

function ourTuples(pcap: Uint8Array): Tuple[] {
  const t = new FrameTuple();
  const q = (a: number) => `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
  return [...openCapture(pcap)].map((r) => {
    readFrameTuple(new DataView(r.data.buffer, r.data.byteOffset, r.data.byteLength), 0, r.data.byteLength, t);
    return [q(t.src), q(t.dst), t.sport, t.dport];
  });
}

function tsharkTuples(file: string): Tuple[] {
  const out = execFileSync('tshark', ['-r', file, '-T', 'fields', '-E', 'separator=,', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'udp.srcport', '-e', 'udp.dstport'], { encoding: 'utf8' });
  return out
    .trim()
    .split('\n')
    .map((line) => {
      const [s, d, sp, dp] = line.split(',');
      return [s, d, Number(sp), Number(dp)];
    });
}

describe('nfvkit capture', () => {
  it('writes 1000 frames of a link to a pcap that our reader and tshark read with the same 5-tuples', async () => {
    const file = join(dir, 'b-inside.pcap');
    const r = await runCaptured(['capture', 'cap-it', '--function', 'b', '--side', 'inside', '--count', '1000', '-w', file, 'udp and dst port 53', '--server', server.address]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^1000 frames captured on cap-it link 1: a outside, b inside: \d+ matched, \d+ dropped/);
    const pcap = new Uint8Array(readFileSync(file));
    const ours = ourTuples(pcap);
    expect(ours).toHaveLength(1000);
    for (const [src, dst, sport, dport] of ours) {
      expect(src).toMatch(/^198\.18\.1\.\d+$/);
      expect([dst, dport]).toEqual(['198.18.2.100', 53]);
      expect(sport).toBeGreaterThan(0);
    }
    expect(new Set(ours.map((t) => t.join(' '))).size).toBeGreaterThan(100);
    expect(tsharkTuples(file)).toEqual(ours);
    // Nanosecond timestamps in order, lengths as on the link.
    const records = [...openCapture(pcap)];
    for (let i = 1; i < records.length; i++) expect(records[i].tsSec * 1e9 + records[i].tsNsec >= records[i - 1].tsSec * 1e9 + records[i - 1].tsNsec).toBe(true);
    expect(records.every((rec) => rec.data.length === rec.origLen)).toBe(true);
  }, 30_000);

  it('prints a line per frame without -w, and cuts frames to the snaplen', async () => {
    const r = await runCaptured(['capture', 'cap-it', '--function', 'a', '--side', 'outside', '-c', '3', '--filter', 'src net 198.18.1.0/24', '--server', server.address]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line).toMatch(/^\d\d:\d\d:\d\d\.\d{6} -> udp 198\.18\.1\.\d+:\d+ > 198\.18\.2\.100:53 len \d+$/);

    const file = join(dir, 'snap.pcap');
    expect((await runCaptured(['capture', 'cap-it', '-c', '5', '--snaplen', '42', '-w', file, '--server', server.address])).code).toBe(0);
    const records = [...openCapture(new Uint8Array(readFileSync(file)))];
    expect(records.map((rec) => rec.data.length)).toEqual([42, 42, 42, 42, 42]);
    expect(records.every((rec) => rec.origLen > 42)).toBe(true);
  }, 30_000);

  it('refuses a bad filter with its column, an unknown function, and a fused link that never crosses the host', async () => {
    const bad = await runCaptured(['capture', 'cap-it', 'udp and port dns', '--server', server.address]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/filter: column 14: expected a port number 0\.\.65535 after "port", found "dns"/);
    const unknown = await runCaptured(['capture', 'cap-it', '--function', 'zz', '--server', server.address]);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toMatch(/no function "zz"; it has: a, b/);
    const fused = await runCaptured(['capture', 'cap-fused', '--function', 'b', '--side', 'inside', '--server', server.address]);
    expect(fused.code).toBe(4);
    expect(fused.stderr).toMatch(/runs fused: frames between its functions never cross the host; capture a inside or b outside/);
    const fusedEnd = await runCaptured(['capture', 'cap-fused', '--function', 'b', '--side', 'outside', '-c', '10', '-w', join(dir, 'fused.pcap'), '--server', server.address]);
    expect(fusedEnd.code).toBe(0);
    expect([...openCapture(new Uint8Array(readFileSync(join(dir, 'fused.pcap'))))]).toHaveLength(10);
  }, 30_000);

  it('counts frames as dropped while the client does not read, and the chain keeps its pace', async () => {
    const client = createControllerClient(server.address);
    try {
      const stream = client.capture('cap-it', { side: 'inside' });
      const it = stream[Symbol.asyncIterator]();
      const first = await it.next();
      expect(first.value?.link).toBe('link 0: chain inside end, a inside');
      const before = controller.chain('cap-it').dataPlane.traffic.leftOutside;
      // Read nothing for a while: the controller's queue fills, then drops.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const moved = controller.chain('cap-it').dataPlane.traffic.leftOutside - before;
      let last = first.value!;
      for (let i = 0; i < 2000; i++) {
        const next = await it.next();
        if (next.done === true) break;
        last = next.value;
        if (last.dropped > 0) break;
      }
      expect(last.dropped).toBeGreaterThan(0);
      // 50k frames/s offered: the chain moved them while nobody read the capture.
      expect(moved).toBeGreaterThan(30_000);
      stream.cancel();
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      client.close();
    }
    let open: unknown;
    try {
      // Cancelled streams closed their sessions: four more may open.
      for (let i = 0; i < 4; i++) controller.openCapture('cap-it', {}).close();
    } catch (err) {
      open = err;
    }
    expect(open).toBeUndefined();
  }, 30_000);
});
