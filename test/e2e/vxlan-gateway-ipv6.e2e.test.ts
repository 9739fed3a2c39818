import { describe, expect, it } from 'vitest';
import type { VxlanPort } from '../../src/dataplane/ports/vxlan-port.ts';
import { Lab, type LabDestroyReport } from '../../src/netlab/lab.ts';
import { canCreateNamespaces } from '../../src/netlab/namespace-probe.ts';
import { runCommand } from '../../src/netlab/run-command.ts';
import { openVxlanPort } from '../../src/ports/vxlan.ts';
import { PacketPool } from '../../src/pool/packet-pool.ts';
import { UDP_BACKENDS } from '../support/udp-backends.ts';

const probe = await canCreateNamespaces();
if (!probe.ok) console.warn(`[e2e] skipping VXLAN IPv6 gateway test: ${probe.reason}`);

const GATEWAY = '2001:db8:1::1';
const CLIENT = '2001:db8:1::2';
/** The default MAC of an IPv6-only gateway: 02:00 and its address's words XORed (0x20010db8 ^ 0x10000 ^ 0 ^ 1). */
const GATEWAY_MAC = '02:00:20:00:0d:b9';

/** Receives on `port` (answers go straight back; nothing may enter the chain, which this test does not have) until `done()`. */
async function pump(port: VxlanPort, pool: PacketPool, done: () => boolean, ms: number): Promise<number> {
  const ids = new Uint32Array(64);
  const deadline = performance.now() + ms;
  let forwarded = 0;
  while (!done() && performance.now() < deadline) {
    const n = port.fill(pool, ids, 64);
    if (n > 0) pool.freeBatch(ids, n);
    forwarded += n;
    await new Promise((r) => setTimeout(r, 1));
  }
  return forwarded;
}

describe.skipIf(!probe.ok).each(UDP_BACKENDS)('VXLAN port + IPv6 gateway: the kernel resolves it by NDP ($backend sockets)', ({ backend, skip }) => {
  it('answers the kernel\'s neighbour solicitation and pings to its address, and time exceeded for hop limit 1', async (ctx) => {
    if (skip !== undefined) ctx.skip(skip);
    const ping = await runCommand('ping', ['-V'], { allowFailure: true }).catch((err: Error) => err);
    if (ping instanceof Error) throw new Error(`this test needs ping (apt-get install -y iputils-ping): ${ping.message}`);
    const lab = new Lab({ prefix: 'nfv6' });
    const pool = PacketPool.create({ bufferCount: 1024 });
    let port: VxlanPort | undefined;
    let labReport: LabDestroyReport | undefined;
    try {
      const client = await lab.namespace('client');
      const u = await lab.underlay30();
      const veth = await lab.veth({ ns: null, address: u.cidrA }, { ns: client, address: u.cidrB });
      port = await openVxlanPort({
        listen: { address: u.a },
        gateway: { addresses: [`${GATEWAY}/64`] },
        peers: [{ name: 'client', vni: 100, remote: u.b, port: 4789, subnets: ['2001:db8:1::/64'] }],
      }, pool, { backend, listenPort: 0 });
      const dev = await lab.vxlan({ ns: client, vni: 100, dev: veth.b, local: u.b, remote: u.a, remotePort: port.localPort, address: `${CLIENT}/64` });
      await lab.route(client, '2001:db8:2::/64', GATEWAY);

      const run = async (args: string[]) => {
        let done = false;
        const result = lab.exec(client, 'ping', args, { allowFailure: true, timeoutMs: 20_000 }).finally(() => (done = true));
        const forwarded = await pump(port!, pool, () => done, 20_000);
        return { ...(await result), forwarded };
      };
      const echo = await run(['-6', '-n', '-c', '3', '-i', '0.2', '-W', '2', GATEWAY]);
      expect(echo.code, echo.stdout + echo.stderr).toBe(0);
      expect(echo.stdout).toContain('3 received');
      expect(echo.forwarded).toBe(0);
      const neigh = (await lab.exec(client, 'ip', ['-6', 'neigh', 'show', GATEWAY, 'dev', dev])).stdout;
      expect(neigh).toContain(`lladdr ${GATEWAY_MAC}`);
      expect(port.stats().gateway).toMatchObject({ echoRepliesSent: 3 });
      expect(port.stats().gateway.neighbourAdvertisementsSent).toBeGreaterThanOrEqual(1);
      // The gateway learnt the client from its solicitation (or its pings).
      expect(port.gateway.neighbours6.count).toBe(1);

      const expiring = await run(['-6', '-n', '-c', '1', '-t', '1', '-W', '2', '2001:db8:2::5']);
      // ping shows what the kernel accepted (checksum verified): the error from the gateway's address.
      expect(expiring.stdout).toMatch(/From 2001:db8:1::1 icmp_seq=1 Time exceeded: Hop limit/);
      expect(port.stats().gateway.icmpTimeExceededSent).toBe(1);
      expect(port.stats().drops).toMatchObject({ 'gateway:hop_limit_exceeded': 1 });
      expect(expiring.forwarded).toBe(0);
    } finally {
      await port?.close();
      labReport = await lab.destroy();
    }
    expect(pool.inUse()).toBe(0);
    expect(labReport).toMatchObject({ errors: [], leftovers: [] });
    expect((await runCommand('ip', ['netns', 'list'])).stdout).not.toContain(lab.id);
  });
});
