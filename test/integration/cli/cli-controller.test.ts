import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { registerBuiltinFunctions } from '../../../functions/index.ts';
import { Controller } from '../../../src/controller/controller.ts';
import { startControllerServer, type ControllerServer } from '../../../src/grpc/controller-server.ts';
import { ImageStore } from '../../../src/image/image-store.ts';
import { FunctionRegistry } from '../../../src/pipeline/function-registry.ts';
import { specYaml } from '../grpc/fake-controller.ts';
import { startHarness } from '../grpc/grpc-harness.ts';
import { generateTestPki } from '../grpc/tls-material.ts';
import { runCaptured, type CliRun } from '../../unit/cli/run-captured.ts';

const dir = mkdtempSync(join(tmpdir(), 'nfvkit-cli-it-'));
const specFile = join(dir, 'cli-it.yaml');
const spec = (max: number): string => `apiVersion: nfvkit.dev/v1
kind: ServiceFunctionChain
metadata:
  name: cli-it
spec:
  ingress: { type: generator, flows: 64, rate: 20000 }
  egress: { type: sink }
  functions:
    - name: hop
      function: pass-through
      scaling: { min: 1, max: ${max} }
`;
const brokenFile = join(dir, 'broken.yaml');
writeFileSync(
  brokenFile,
  `apiVersion: nfvkit.dev/v1
kind: ServiceFunctionChain
metadata:
  name: cli-it
spec:
  ingress: { type: generator }
  egress: { type: sink }
  functions:
    - name: hop
      function: pass-thru
      scaling: { min: 2, max: 1 }
`,
);

let controller: Controller;
let server: ControllerServer;
let tokenServer: ControllerServer;

beforeAll(async () => {
  controller = await Controller.create({ registry: registerBuiltinFunctions(new FunctionRegistry()), store: ImageStore.open(join(dir, 'store')), warm: false, deleteTimeoutMs: 100 });
  server = await startControllerServer(controller, { shutdownGraceMs: 500 });
  tokenServer = await startControllerServer(controller, { token: 's3cret', shutdownGraceMs: 500 });
});

afterAll(async () => {
  await server?.close();
  await tokenServer?.close();
  await controller?.close(0);
  rmSync(dir, { recursive: true, force: true });
});

const cli = (args: string[], options: Parameters<typeof runCaptured>[1] = {}): Promise<CliRun> => runCaptured([...args, '--server', server.address], options);

describe('nfvkit client commands against a real controller', () => {
  it('apply creates, then leaves an equal spec unchanged, then configures a changed one', async () => {
    writeFileSync(specFile, spec(3));
    expect(await cli(['apply', '-f', specFile])).toEqual({ code: 0, stdout: 'chain/cli-it created\n', stderr: '' });
    expect(await cli(['apply', '-f', specFile])).toEqual({ code: 0, stdout: 'chain/cli-it unchanged\n', stderr: '' });
    writeFileSync(specFile, spec(4));
    const configured = await cli(['apply', '-f', specFile, '-o', 'json']);
    expect(configured.code).toBe(0);
    expect(JSON.parse(configured.stdout)).toMatchObject({ action: 'configured', chain: { name: 'cli-it', generation: 2 } });
  });

  it('apply of an invalid spec prints every problem with its position and exits 2', async () => {
    const r = await cli(['apply', '-f', brokenFile]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')).toEqual([
      `nfvkit: INVALID_ARGUMENT (NFVKIT_ERR_CONFIG_INVALID): chain spec ${brokenFile}: 2 problem(s)`,
      `  ${brokenFile}:10:17 spec.functions[0].function: unknown function "pass-thru"; known: firewall, load-balancer, nat, pass-through`,
      `  ${brokenFile}:11:23 spec.functions[0].scaling.min: min (2) > max (1)`,
      '',
    ]);
    expect((await cli(['apply', '-f', join(dir, 'nope.yaml')])).code).toBe(2);
  });

  it('get lists chains and instances as tables, JSON and YAML', async () => {
    const table = await cli(['get', 'chains']);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+PHASE\s+GEN\s+FUNCTIONS\s+READY\s+AGE$/);
    expect(lines[1]).toMatch(/^cli-it\s+Ready\s+2\s+hop\s+1\/1\s+\d+s$/);
    const json = JSON.parse((await cli(['get', 'chains', '-o', 'json'])).stdout);
    expect(json.map((c: { name: string }) => c.name)).toEqual(['cli-it']);
    expect(parseYaml((await cli(['get', 'chain', 'cli-it', '-o', 'yaml'])).stdout)).toMatchObject({ name: 'cli-it', phase: 'Ready', functions: [{ name: 'hop', max: 4 }] });

    const instances = await cli(['get', 'instances', '--chain', 'cli-it']);
    expect(instances.code).toBe(0);
    expect(instances.stdout).toMatch(/^ID\s+FUNCTION\s+STATE\s+IMAGE\s+FLOWS\s+BOOT\s+AGE\s+REASON\ncli-it\/hop-0\s+hop\s+ready\s+[0-9a-f]{12}\s+\d+\s+[\d.]+ms\s+\d+s\n$/);
  });

  it('get and describe exit 3 for a chain that does not exist', async () => {
    const r = await cli(['get', 'chain', 'nope']);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe('nfvkit: NOT_FOUND (NFVKIT_ERR_NOT_FOUND): no chain named "nope"\n');
    expect((await cli(['describe', 'chain', 'nope'])).code).toBe(3);
    expect((await cli(['get', 'instances', '--chain', 'nope'])).code).toBe(3);
    expect((await cli(['get', 'instance', 'cli-it/hop-9'])).code).toBe(3);
  });

  it('scale changes replicas within bounds, exits 4 outside them and 3 for an unknown function', async () => {
    const ok = await cli(['scale', 'cli-it', 'hop', '--replicas', '2']);
    expect(ok).toEqual({ code: 0, stdout: 'function cli-it/hop scaled to 2 replicas (2 ready, bounds 1..4)\n', stderr: '' });
    const out = await cli(['scale', 'cli-it', 'hop', '--replicas', '5']);
    expect(out.code).toBe(4);
    expect(out.stderr).toBe("nfvkit: FAILED_PRECONDITION (NFVKIT_ERR_FAILED_PRECONDITION): replicas 5 outside hop's scaling bounds 1..4\n");
    expect((await cli(['scale', 'cli-it', 'nope', '--replicas', '1'])).code).toBe(3);
    const bad = await cli(['scale', 'cli-it', 'hop', '--replicas', 'two']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('expected a whole number >= 0');
    const listed = JSON.parse((await cli(['get', 'instances', '--chain', 'cli-it', '-o', 'json'])).stdout) as { id: string; state: string }[];
    expect(listed.filter((i) => i.state === 'ready').map((i) => i.id)).toEqual(['cli-it/hop-0', 'cli-it/hop-1']);
  });

  it('describe shows status, functions, instances and the recent events', async () => {
    const r = await cli(['describe', 'chain', 'cli-it', '--events', '3']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Name: {8}cli-it\nPhase: {7}Ready\nGeneration: {2}2\n/);
    expect(r.stdout).toMatch(/\nFunctions:\n  NAME\s+FUNCTION\s+IMAGE\s+READY\s+MIN\s+MAX\s+TARGET PPS\s+FAILURES\s+BACK-OFF\n  hop\s+pass-through\s+[0-9a-f]{12}\s+2\/2\s+1\s+4\s+500\.0k\s+0\s+-\n/);
    expect(r.stdout).toMatch(/\n  cli-it\/hop-1\s+hop\s+ready\s/);
    expect(r.stdout).toMatch(/\nEvents \(last 3 of \d+\):\n {5}SEQ TIME \(UTC\)/);
    expect(r.stdout).toMatch(/\n +\d+ [\d:.]+ +scaled +cli-it\/hop +manual: 1 → 2 replicas\n/);
    const json = JSON.parse((await cli(['describe', 'chain', 'cli-it', '-o', 'json'])).stdout);
    expect(json.chain.name).toBe('cli-it');
    expect(json.instances).toHaveLength(2);
    expect(json.events[0]).toMatchObject({ seq: 1, type: 'image-built', chain: 'cli-it' });
  });

  it('events prints the history, filtered by chain and --since', async () => {
    const all = await cli(['events', '--chain', 'cli-it']);
    expect(all.code).toBe(0);
    const lines = all.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('   SEQ TIME (UTC)    TYPE               OBJECT                    REASON');
    expect(lines[1]).toMatch(/^ +1 [\d:.]+ +image-built +cli-it\/hop +image built$/);
    expect(lines.some((l) => /applied +cli-it +chain created$/.test(l))).toBe(true);
    const json = JSON.parse((await cli(['events', '--chain', 'cli-it', '-o', 'json'])).stdout) as { seq: number }[];
    expect(json.map((e) => e.seq)).toEqual(json.map((_, i) => i + 1));
    const since = JSON.parse((await cli(['events', '--since', String(json.length - 2), '-o', 'json'])).stdout) as { seq: number }[];
    expect(since.map((e) => e.seq)).toEqual([json.length - 1, json.length]);
    expect((await cli(['events', '--chain', 'other'])).stdout).toBe('no events\n');
  });

  it('events --follow prints new events as they happen until stopped', async () => {
    const history = JSON.parse((await cli(['events', '-o', 'json'])).stdout) as { seq: number }[];
    const last = history[history.length - 1].seq;
    const stop = new AbortController();
    const following = cli(['events', '--chain', 'cli-it', '-f', '--since', String(last), '-o', 'json'], {
      stop: stop.signal,
      onStdout: (text) => {
        if (text.includes('"type":"scaled"')) stop.abort();
      },
    });
    expect((await cli(['scale', 'cli-it', 'hop', '--replicas', '1'])).code).toBe(0);
    const r = await following;
    expect(r.code).toBe(0);
    const events = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { seq: number; type: string; reason: string });
    expect(events[0].seq).toBe(last + 1);
    expect(events.find((e) => e.type === 'scaled')?.reason).toBe('manual: 2 → 1 replicas');
  });

  it('top --count 1 prints one snapshot of per-function rates', async () => {
    const r = await cli(['top', '--count', '1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ {2}\d+ instances?\nCHAIN\s+FUNCTION\s+INST\s+RX PPS\s+TX PPS\s+DROP\/S\s+RX BIT\/S\s+QUEUE\s+BUSY\ncli-it\s+hop\s+\d+\s+[\d.]+[kM]?\s/);
    const json = await cli(['top', '--count', '2', '--interval', '100', '-o', 'json', '--chain', 'cli-it']);
    const snaps = json.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { time: number; functions: { function: string }[] });
    expect(snaps).toHaveLength(2);
    expect(snaps[0].functions.map((f) => f.function)).toEqual(['hop']);
    expect((await cli(['top', '--chain', 'nope', '--count', '1'])).code).toBe(3);
  });

  it('exits 5 when the controller cannot be reached and 6 without the right token', async () => {
    const down = await runCaptured(['get', 'chains', '--server', '127.0.0.1:1']);
    expect(down.code).toBe(5);
    expect(down.stderr).toMatch(/^nfvkit: UNAVAILABLE: cannot reach the controller at 127\.0\.0\.1:1: /);
    const noToken = await runCaptured(['get', 'chains', '--server', tokenServer.address]);
    expect(noToken.code).toBe(6);
    expect(noToken.stderr).toContain('UNAUTHENTICATED');
    expect((await runCaptured(['get', 'chains', '--server', tokenServer.address, '--token', 'wrong'])).code).toBe(6);
    expect((await runCaptured(['get', 'chains', '--server', tokenServer.address, '--token', 's3cret'])).code).toBe(0);
    expect((await runCaptured(['get', 'chains'], { env: { NFVKIT_SERVER: tokenServer.address, NFVKIT_TOKEN: 's3cret' } })).code).toBe(0);
  });

  it('speaks mutual TLS with --tls-ca, --tls-cert and --tls-key', async () => {
    const pki = generateTestPki();
    const pem = (name: string, data: Buffer): string => {
      const file = join(dir, name);
      writeFileSync(file, data);
      return file;
    };
    const [ca, cert, key] = [pem('ca.crt', pki.caCert), pem('client.crt', pki.clientCert), pem('client.key', pki.clientKey)];
    const tls = await startControllerServer(controller, { tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.caCert, requireClientCert: true }, shutdownGraceMs: 500 });
    try {
      const ok = await runCaptured(['get', 'chains', '--server', tls.address, '--tls-ca', ca, '--tls-cert', cert, '--tls-key', key, '-o', 'json']);
      expect(ok.stderr).toBe('');
      expect(JSON.parse(ok.stdout).map((c: { name: string }) => c.name)).toEqual(['cli-it']);
      expect((await runCaptured(['get', 'chains', '--server', tls.address, '--tls-ca', ca])).code).toBe(6);
      expect((await runCaptured(['get', 'chains', '--server', tls.address, '--tls-ca', ca, '--tls-cert', cert])).code).toBe(2);
      expect((await runCaptured(['get', 'chains', '--server', tls.address, '--tls-ca', join(dir, 'missing.crt')])).code).toBe(2);
    } finally {
      await tls.close();
    }
    const embedded = await runCaptured(['up', specFile, '--listen', '127.0.0.1:0', '--tls-cert', pem('server.crt', pki.serverCert), '--tls-key', pem('server.key', pki.serverKey), '--tls-ca', ca, '--token', 'tok', '--no-metrics', '--no-top', '--warm', '0', '--store', join(dir, 'store'), '--state-dir', join(dir, 'state'), '--duration', '0.1']);
    expect(embedded.code, embedded.stderr).toBe(0);
    expect(embedded.stdout).toMatch(/^nfvkit up: controller gRPC on 127\.0\.0\.1:\d+ \(mutual TLS, token required\)\nnfvkit up: metrics off\n/);
  });

  it('a spawned nfvkit finds the controller through NFVKIT_SERVER', async () => {
    const child = spawn(join(process.cwd(), 'node_modules/.bin/tsx'), [join(process.cwd(), 'src/cli/nfvkit.ts'), 'get', 'chains', '-o', 'json'], {
      env: { ...process.env, NFVKIT_SERVER: server.address, NFVKIT_TOKEN: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    expect(stderr.replace(/^npm warn .*\n/gm, '')).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(stdout).map((c: { name: string }) => c.name)).toEqual(['cli-it']);
  });

  it('up refuses a listen address that is taken (exit 4) and an invalid spec (exit 2)', async () => {
    const base = ['--no-metrics', '--no-top', '--warm', '0', '--store', join(dir, 'store'), '--state-dir', join(dir, 'state'), '--duration', '0.1'];
    const taken = await runCaptured(['up', specFile, '--listen', server.address, ...base]);
    expect(taken.code).toBe(4);
    expect(taken.stderr).toContain(`NFVKIT_ERR_FAILED_PRECONDITION: cannot listen on ${server.address}: address already in use`);
    const invalid = await runCaptured(['up', brokenFile, '--listen', '127.0.0.1:0', ...base]);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain(`  ${brokenFile}:11:23 spec.functions[0].scaling.min: min (2) > max (1)`);
  });

  it('delete removes the chain; a second delete exits 3', async () => {
    expect(await cli(['delete', 'chain', 'cli-it'])).toEqual({ code: 0, stdout: 'chain/cli-it deleted\n', stderr: '' });
    expect((await cli(['get', 'chains'])).stdout).toBe('no chains\n');
    const again = await cli(['delete', 'chain', 'cli-it']);
    expect(again.code).toBe(3);
    expect(again.stderr).toBe('nfvkit: NOT_FOUND (NFVKIT_ERR_NOT_FOUND): no chain named "cli-it"\n');
  });
});

describe('nfvkit get chains against many chains', () => {
  it('follows the pages: every chain once, summaries only', async () => {
    const h = await startHarness();
    try {
      const names = Array.from({ length: 250 }, (_, i) => `many-${String(i).padStart(3, '0')}`);
      for (const name of names) await h.fake.apply(specYaml(name), `${name}.yaml`);
      const calls = h.fake.listCalls;
      const json = await runCaptured(['get', 'chains', '-o', 'json', '--server', h.server.address]);
      expect(json.code, json.stderr).toBe(0);
      const listed = JSON.parse(json.stdout) as { name: string; specYaml?: string }[];
      expect(listed.map((c) => c.name)).toEqual(names);
      expect(listed.some((c) => 'specYaml' in c)).toBe(false);
      expect(h.fake.listCalls - calls).toBe(3);
      const table = await runCaptured(['get', 'chains', '--server', h.server.address]);
      expect(table.stdout.trimEnd().split('\n')).toHaveLength(251);
    } finally {
      await h.close();
    }
  });
});
