/**
 * The real-traffic demo: a client and three web servers in network namespaces, the
 * `web-edge` chain (firewall → load balancer → NAT) applied by the controller in this
 * process and reached over VXLAN, real TCP through it. Shows which backend answers each
 * new connection and what source address it saw, a forbidden port refused by the
 * firewall, a backend removed by a rolling update, a short load run, the chain's events,
 * and the leak check at shutdown. Removes everything it created, also on failure or Ctrl-C.
 *
 * Usage (root, Linux): `npx tsx src/demo/web-edge-real-traffic.ts [--seconds N]`
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerBuiltinFunctions } from '../../functions/index.ts';
import { ImageStore } from '../image/image-store.ts';
import { canCreateNamespaces } from '../netlab/namespace-probe.ts';
import { startWebEdgeChain, type WebEdgeChain } from '../netlab/web-edge-chain.ts';
import { WEB_LAB_ADDRESSES, WebLab } from '../netlab/web-lab.ts';
import { FunctionRegistry } from '../pipeline/function-registry.ts';

/** Client-side script run with `node -e` inside the client namespace: `count` GETs on new connections. */
const GETS = `
const http = require('node:http');
const [url, count] = process.argv.slice(1);
(async () => {
  for (let i = 0; i < Number(count); i++) {
    const t0 = performance.now();
    const body = await new Promise((ok, fail) => http.get(url, { agent: false }, (r) => { let b = ''; r.on('data', (d) => (b += d)); r.on('end', () => ok(b)); }).on('error', fail));
    const { backend, from, port } = JSON.parse(body);
    console.log('  GET ' + url + ' -> ' + backend + ' (it saw ' + from + ':' + port + ') in ' + (performance.now() - t0).toFixed(1) + ' ms');
  }
})().catch((e) => { console.log('  error: ' + e.message); process.exitCode = 1; });
`;

/** Client-side script: one TCP connect, prints how it ended and how fast. */
const CONNECT = `
const net = require('node:net');
const [host, port] = process.argv.slice(1);
const t0 = performance.now();
const s = net.connect({ host, port: Number(port), timeout: 3000 });
const done = (what) => { console.log('  connect ' + host + ':' + port + ' -> ' + what + ' after ' + (performance.now() - t0).toFixed(1) + ' ms'); s.destroy(); };
s.on('connect', () => done('connected'));
s.on('timeout', () => done('timeout'));
s.on('error', (e) => done(e.code));
`;

async function inClient(web: WebLab, script: string, args: string[]): Promise<void> {
  const p = web.lab.spawn(web.client, process.execPath, ['-e', script, ...args]);
  await p.exited;
  process.stdout.write(p.stdout);
  if (p.stderr.trim() !== '') process.stdout.write(p.stderr);
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--seconds');
  const seconds = i >= 0 ? Number(process.argv[i + 1]) : 3;
  const probe = await canCreateNamespaces();
  if (!probe.ok) {
    console.error(`cannot run the real-traffic demo here: ${probe.reason}`);
    process.exitCode = 2;
    return;
  }
  const storeDir = mkdtempSync(join(tmpdir(), 'nfvkit-demo-'));
  const t0 = performance.now();
  const web = await WebLab.create({ prefix: 'nfvd' });
  let edge: WebEdgeChain | undefined;
  const stop = (): void => void cleanup().then(() => process.exit(130));
  process.once('SIGINT', stop);
  async function cleanup(): Promise<void> {
    process.off('SIGINT', stop);
    if (edge !== undefined) {
      const { leakedBuffers, flowsLeft } = await edge.close(500);
      console.log(`chain deleted: leakedBuffers=${leakedBuffers} flowsLeft=${flowsLeft}`);
      edge = undefined;
    }
    const report = await web.destroy();
    rmSync(storeDir, { recursive: true, force: true });
    console.log(`lab ${web.lab.id} removed: ${report.removed} resources, errors ${JSON.stringify(report.errors)}, leftovers ${JSON.stringify(report.leftovers)}`);
  }
  try {
    console.log(`lab ${web.lab.id}: client ${web.client}, backends ${web.backends.map((b) => `${b.ns} (${b.address}:8080)`).join(', ')}`);
    console.log(`chain ports listen on ${web.insideListen}:${web.vxlanPort} (client side) and ${web.outsideListen}:${web.vxlanPort} (backend side)`);
    edge = await startWebEdgeChain(web, { registry: registerBuiltinFunctions(new FunctionRegistry()), store: ImageStore.open(storeDir) });
    console.log(`web-edge applied by the controller, ${edge.controller.listInstances().length} instances ready (${(performance.now() - t0).toFixed(0)} ms since start)`);
    const placed = edge.controller.getChain(edge.name);
    console.log(`placement ${placed.placement}; ends on the ${placed.ends?.where ?? 'host'} (${placed.ends?.reason ?? ''})\n`);

    console.log(`6 new connections to the VIP ${WEB_LAB_ADDRESSES.vip}:80:`);
    await inClient(web, GETS, [web.targets.chain, '6']);
    console.log('\nthe firewall rejects port 22 with a TCP reset:');
    await inClient(web, CONNECT, [WEB_LAB_ADDRESSES.vip, '22']);

    console.log('\nrolling update: backend-3 removed from the load balancer');
    await edge.setBackends(['backend-1', 'backend-2']);
    await inClient(web, GETS, [web.targets.chain, '6']);

    console.log(`\nload: 10 keep-alive connections for ${seconds} s (closed loop)`);
    const script = new URL('../../bench/lib/closed-loop-client.ts', import.meta.url);
    const load = web.lab.spawnNode(web.client, script, [web.targets.chain, '10', String(seconds), '1']);
    await load.exited;
    const r = JSON.parse(load.stdout.trim().split('\n').at(-1) ?? '{}') as { rps: number; p50: number; p99: number; errors: number };
    console.log(`  ${r.rps} req/s, p50 ${r.p50} µs, p99 ${r.p99} µs, ${r.errors} failed`);

    console.log(`ends: inside ${JSON.stringify(edge.endDrops('inside'))} dropped, outside ${JSON.stringify(edge.endDrops('outside'))} dropped; ${edge.endFigures('inside').framesIn} frames in from the clients`);
    const drops = edge.runtime.dataPlane.dropsByReason();
    console.log(`\ndrops by reason: ${JSON.stringify(drops)}`);
    console.log('events:');
    for (const e of edge.controller.events.since(0)) console.log(`  #${e.seq} ${e.type} ${e.function || e.chain}${e.instance ? ` ${e.instance}` : ''}: ${e.reason}`);
  } finally {
    await cleanup();
  }
}

await main();
