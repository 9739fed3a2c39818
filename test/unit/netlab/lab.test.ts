import { describe, expect, it } from 'vitest';
import { NetlabError } from '../../../src/errors/catalog.ts';
import { Lab } from '../../../src/netlab/lab.ts';
import { labId, MAX_INTERFACE_NAME, sanitizeRole } from '../../../src/netlab/lab-names.ts';
import { canCreateNamespaces } from '../../../src/netlab/namespace-probe.ts';
import { runCommand } from '../../../src/netlab/run-command.ts';

const probe = await canCreateNamespaces();
if (!probe.ok) console.warn(`[netlab] skipping namespace tests: ${probe.reason}`);

async function netnsList(): Promise<string> {
  return (await runCommand('ip', ['netns', 'list'])).stdout;
}

describe('netlab helpers without namespaces', () => {
  it('makes short, distinct lab ids and safe role names', () => {
    const ids = new Set(Array.from({ length: 200 }, () => labId()));
    expect(ids.size).toBeGreaterThan(190);
    for (const id of ids) expect(id).toMatch(/^[0-9a-z]{6}$/);
    expect(sanitizeRole('Client-A_1', 16)).toBe('clienta1');
    expect(sanitizeRole('a-very-long-role-name', 5)).toBe('avery');
  });

  it('runCommand returns output, throws NetlabError with stderr on failure, and kills on timeout', async () => {
    expect((await runCommand('sh', ['-c', 'echo hi; echo err >&2'])).stdout).toBe('hi\n');
    await expect(runCommand('sh', ['-c', 'echo boom >&2; exit 3'])).rejects.toThrow(/exited with 3: boom/);
    await expect(runCommand('sh', ['-c', 'exit 3'])).rejects.toBeInstanceOf(NetlabError);
    expect((await runCommand('sh', ['-c', 'exit 4'], { allowFailure: true })).code).toBe(4);
    expect((await runCommand('cat', [], { input: 'fed' })).stdout).toBe('fed');
    await expect(runCommand('sleep', ['5'], { timeoutMs: 100 })).rejects.toThrow(/timed out/);
    await expect(runCommand('/nonexistent/tool', [])).rejects.toThrow(/cannot run/);
  });

  it('the namespace probe gives a verdict with a reason when it says no', () => {
    if (process.getuid?.() === 0) expect(probe).toEqual({ ok: true, reason: '' });
    else expect(probe.reason).toMatch(/root|Linux|ip/);
  });
});

describe.skipIf(!probe.ok)('Lab (network namespaces)', () => {
  it('connects two namespaces over veth and carries a UDP datagram between Node processes in them', async () => {
    const lab = new Lab();
    try {
      const a = await lab.namespace('a');
      const b = await lab.namespace('b');
      expect(a).toBe(`nfv-${lab.id}-a`);
      const { a: va, b: vb } = await lab.veth({ ns: a, address: '198.18.77.1/30' }, { ns: b, address: '198.18.77.2/30' });
      expect(va.length).toBeLessThanOrEqual(MAX_INTERFACE_NAME);
      expect((await lab.exec(b, 'ip', ['-4', '-o', 'addr', 'show', 'dev', vb])).stdout).toContain('198.18.77.2/30');
      const server = lab.spawn(b, process.execPath, ['-e', `
        const s = require('dgram').createSocket('udp4');
        s.on('message', (m) => { console.log('got ' + m); process.exit(0); });
        s.bind(9999, '198.18.77.2', () => console.log('ready'));`]);
      await server.waitForOutput(/ready/, 5000);
      await lab.exec(a, process.execPath, ['-e', `require('dgram').createSocket('udp4').send('ping', 9999, '198.18.77.2', () => process.exit(0))`]);
      expect((await server.exited).code).toBe(0);
      expect(server.stdout).toContain('got ping');
      await lab.nft(b, 'table inet t {\n counter seen {}\n chain c {\n type filter hook input priority 0;\n udp dport 9999 counter name seen\n }\n}\n');
      await lab.exec(a, process.execPath, ['-e', `require('dgram').createSocket('udp4').send('x', 9999, '198.18.77.2', () => process.exit(0))`]);
      expect((await lab.nftCounter(b, 'inet', 't', 'seen')).packets).toBe(1);
    } finally {
      const report = await lab.destroy();
      expect(report.errors).toEqual([]);
      expect(report.leftovers).toEqual([]);
    }
    expect(await netnsList()).not.toContain(lab.id);
  });

  it('builds a VXLAN device with a port override over a root-namespace veth, and removes everything afterwards', async () => {
    const lab = new Lab({ prefix: 'nfvt' });
    let rootEnd = '';
    try {
      const ns = await lab.namespace('vx');
      const net = await lab.underlay30();
      expect(net.a).toMatch(/^198\.19\./);
      const v = await lab.veth({ ns: null, address: net.cidrA }, { ns, address: net.cidrB });
      rootEnd = v.a;
      expect((await runCommand('ip', ['-4', '-o', 'addr', 'show', 'dev', rootEnd])).stdout).toContain(net.cidrA);
      const vx = await lab.vxlan({ ns, vni: 4242, dev: v.b, local: net.b, remote: net.a, remotePort: 40999, address: '198.18.42.2/24' });
      const details = (await lab.exec(ns, 'ip', ['-d', 'link', 'show', 'dev', vx])).stdout;
      expect(details).toMatch(/vxlan id 4242/);
      expect((await lab.exec(ns, 'bridge', ['fdb', 'show', 'dev', vx])).stdout).toMatch(/00:00:00:00:00:00 dst \S+ port 40999/);
      expect(lab.resources.map((r) => r.kind)).toEqual(['namespace', 'link', 'address', 'address', 'link', 'fdb', 'address']);
    } finally {
      const report = await lab.destroy();
      expect(report).toMatchObject({ errors: [], leftovers: [] });
    }
    expect((await runCommand('ip', ['link', 'show', 'dev', rootEnd], { allowFailure: true })).code).not.toBe(0);
    expect(await netnsList()).not.toContain(lab.id);
  });

  it('keeps to its own namespaces and devices, and destroys tolerantly after outside interference', async () => {
    const lab = new Lab();
    try {
      const ns = await lab.namespace('x');
      await expect(lab.address(null, 'lo', '198.18.99.1/32')).rejects.toThrow(/not a root-namespace device/);
      await expect(lab.route('someone-elses-ns', '198.18.0.0/24', '198.18.1.1')).rejects.toThrow(/not a namespace of lab/);
      await expect(lab.namespace('x')).rejects.toThrow(/already has/);
      const sleeper = lab.spawn(ns, 'sleep', ['30']);
      const quick = lab.spawn(ns, 'true');
      await quick.exited;
      await runCommand('ip', ['netns', 'del', ns]);
      const report = await lab.destroy();
      expect(report.leftovers).toEqual([]);
      expect(report.errors.join('\n')).toMatch(/namespace/);
      expect(sleeper.running).toBe(false);
      expect(await lab.destroy()).toEqual({ removed: 0, errors: [], leftovers: [] });
      await expect(lab.namespace('y')).rejects.toThrow(/destroyed/);
    } finally {
      await lab.destroy();
    }
  });
});
