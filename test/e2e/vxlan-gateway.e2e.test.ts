import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { passThrough } from '../../functions/pass-through/pipeline.ts';
import { ChainDataPlane, createDataPlanePool } from '../../src/dataplane/chain-data-plane.ts';
import type { VxlanPort } from '../../src/dataplane/ports/vxlan-port.ts';
import { openVxlanPort } from '../../src/ports/vxlan.ts';
import { buildImage } from '../../src/image/image-builder.ts';
import { ImageStore } from '../../src/image/image-store.ts';
import { Lab, type LabDestroyReport } from '../../src/netlab/lab.ts';
import { canCreateNamespaces } from '../../src/netlab/namespace-probe.ts';
import { runCommand } from '../../src/netlab/run-command.ts';
import { UDP_BACKENDS } from '../support/udp-backends.ts';
import { vxlanSides } from './support/vxlan-sides.ts';

const probe = await canCreateNamespaces();
if (!probe.ok) console.warn(`[e2e] skipping VXLAN gateway test: ${probe.reason}`);

const CLIENT_IP = '198.18.1.2';
const SERVER_IP = '198.18.2.2';
const REQUESTS = 5;

const counters = (peer: string, proto: string) => `table inet e2e {
  counter ttl63 {}
  counter ttl_other {}
  counter time_exceeded {}
  chain input {
    type filter hook input priority 0;
    ip saddr ${peer} ${proto} ip ttl 63 counter name ttl63
    ip saddr ${peer} ${proto} ip ttl != 63 counter name ttl_other
    icmp type time-exceeded counter name time_exceeded
  }
}
`;

describe.skipIf(!probe.ok).each(UDP_BACKENDS)('VXLAN port + L3 gateway: real TCP through a chain between two namespaces ($backend sockets)', ({ backend, skip }) => {
  it('carries HTTP request/response, answers ARP, decrements TTL, sends time exceeded, and leaves nothing behind', async (ctx) => {
    if (skip !== undefined) ctx.skip(skip);
    const lab = new Lab({ prefix: 'nfve' });
    const storeDir = mkdtempSync(join(tmpdir(), 'nfvkit-e2e-'));
    let chain: ChainDataPlane | undefined;
    let inside: VxlanPort | undefined;
    let outside: VxlanPort | undefined;
    let leaks: unknown[] = ['chain not shut down'];
    let labReport: LabDestroyReport | undefined;
    try {
      const sides = await vxlanSides(lab);
      const { client, server, inside: cu, outside: su } = sides;
      const pool = createDataPlanePool();
      inside = await openVxlanPort({
        listen: { address: cu.a },
        gateway: { addresses: ['198.18.1.1/24'] },
        peers: [{ name: 'client', vni: 100, remote: cu.b, port: 4789, subnets: ['198.18.1.0/24'] }],
      }, pool, { backend, listenPort: 0 });
      outside = await openVxlanPort({
        listen: { address: su.a },
        gateway: { addresses: ['198.18.2.1/24'] },
        peers: [{ name: 'server', vni: 200, remote: su.b, port: 4789, subnets: ['198.18.2.0/24'] }],
      }, pool, { backend, listenPort: 0 });
      await sides.attach({ clientIp: CLIENT_IP, serverIp: SERVER_IP, insidePort: inside.localPort, outsidePort: outside.localPort });
      await lab.nft(server, counters(CLIENT_IP, 'tcp dport 8080'));
      await lab.nft(client, counters(SERVER_IP, 'tcp sport 8080'));

      chain = await ChainDataPlane.boot([await buildImage(passThrough, {}, { store: ImageStore.open(storeDir) })], { pool });
      const httpServer = lab.spawnNode(server, new URL('./support/http-server.ts', import.meta.url), [SERVER_IP, '8080']);
      await httpServer.waitForOutput(/listening/, 20_000);

      const httpClient = lab.spawnNode(client, new URL('./support/http-client.ts', import.meta.url), [`http://${SERVER_IP}:8080/hello`, String(REQUESTS), '15000']);
      let clientDone = false;
      void httpClient.exited.then(() => (clientDone = true));
      expect(await chain.runUntil(inside, outside, () => clientDone, 40_000)).toBe(true);
      const out = JSON.parse(httpClient.stdout.trim().split('\n').at(-1) ?? '{}') as { ok: boolean; results: Array<{ status: number; body: string; ms: number }>; error?: string };
      expect(out, httpClient.stderr).toMatchObject({ ok: true });
      expect(out.results.map((r) => r.status)).toEqual(Array(REQUESTS).fill(200));
      expect(JSON.parse(out.results[0].body)).toEqual({ path: '/hello?i=0', from: CLIENT_IP });

      const gwNeigh = (await lab.exec(client, 'ip', ['neigh', 'show', '198.18.1.1'])).stdout;
      expect(gwNeigh).toContain('lladdr 02:00:c6:12:01:01');
      expect(inside.stats().gateway.arpRepliesSent).toBeGreaterThanOrEqual(1);
      expect(outside.stats().gateway).toMatchObject({ arpRequestsSent: 1, arpRepliesReceived: 1, released: 1 });

      const atServer = await lab.nftCounter(server, 'inet', 'e2e', 'ttl63');
      expect(atServer.packets).toBeGreaterThanOrEqual(REQUESTS * 3);
      expect((await lab.nftCounter(server, 'inet', 'e2e', 'ttl_other')).packets).toBe(0);
      expect((await lab.nftCounter(client, 'inet', 'e2e', 'ttl63')).packets).toBeGreaterThanOrEqual(REQUESTS * 3);
      expect((await lab.nftCounter(client, 'inet', 'e2e', 'ttl_other')).packets).toBe(0);

      const ttlProbe = lab.spawnNode(client, new URL('./support/udp-ttl-probe.ts', import.meta.url), [SERVER_IP, '9', '1']);
      let probeExitAt = Infinity;
      void ttlProbe.exited.then(() => (probeExitAt = performance.now()));
      await chain.runUntil(inside, outside, () => performance.now() > probeExitAt + 300, 20_000);
      expect(ttlProbe.stdout).toContain('sent');
      expect((await lab.nftCounter(client, 'inet', 'e2e', 'time_exceeded')).packets).toBe(1);
      expect(inside.stats().gateway.icmpTimeExceededSent).toBe(1);
      expect(inside.stats().drops).toMatchObject({ 'gateway:ttl_exceeded': 1 });
      expect(chain.dropped()).toBe(0);
    } finally {
      await inside?.close();
      await outside?.close();
      if (chain !== undefined) leaks = [...(await chain.shutdown()).leaks];
      labReport = await lab.destroy();
      rmSync(storeDir, { recursive: true, force: true });
    }
    expect(leaks).toEqual([]);
    expect(labReport).toMatchObject({ errors: [], leftovers: [] });
    expect((await runCommand('ip', ['netns', 'list'])).stdout).not.toContain(lab.id);
    expect((await runCommand('ip', ['-o', 'link', 'show'])).stdout).not.toContain(lab.id);
  });
});
