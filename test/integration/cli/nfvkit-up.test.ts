import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const tsx = join(process.cwd(), 'node_modules/.bin/tsx');
const cli = join(process.cwd(), 'src/cli/nfvkit.ts');
const dir = mkdtempSync(join(tmpdir(), 'nfvkit-up-'));
const specFile = join(dir, 'up-it.yaml');
writeFileSync(
  specFile,
  `apiVersion: nfvkit.dev/v1
kind: ServiceFunctionChain
metadata:
  name: up-it
spec:
  ingress: { type: generator, flows: 256, rate: 50000 }
  egress: { type: sink }
  functions:
    - name: hop
      function: pass-through
`,
);
/** The same chain with two functions, fused: its generator and sink run in the replica. */
const fusedSpecFile = join(dir, 'up-it-fused.yaml');
writeFileSync(
  fusedSpecFile,
  `apiVersion: nfvkit.dev/v1
kind: ServiceFunctionChain
metadata:
  name: up-it
spec:
  ingress: { type: generator, flows: 256, rate: 50000 }
  egress: { type: sink }
  placement: fused
  functions:
    - name: hop
      function: pass-through
    - name: hop2
      function: pass-through
`,
);
const children: ChildProcessWithoutNullStreams[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function up(extra: string[], file = specFile, home = dir): { child: ChildProcessWithoutNullStreams; output: () => string; waitFor: (text: string) => Promise<void> } {
  const child = spawn(tsx, [cli, 'up', file, '--listen', '127.0.0.1:0', '--metrics', '127.0.0.1:0', '--warm', '0', '--store', join(home, 'store'), '--data-dir', join(home, 'data'), ...extra]);
  children.push(child);
  let out = '';
  const waiters: { text: string; resolve: () => void }[] = [];
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of waiters.filter((w) => out.includes(w.text))) w.resolve();
  });
  child.stderr.on('data', (d: Buffer) => (out += d.toString().replace(/^npm warn .*\n/gm, '')));
  return {
    child,
    output: () => out,
    waitFor: (text) => (out.includes(text) ? Promise.resolve() : new Promise((resolve) => waiters.push({ text, resolve }))),
  };
}

const rate = (text: string): number => Number.parseFloat(text) * ({ k: 1e3, M: 1e6, G: 1e9 }[text.slice(-1)] ?? 1);

/**
 * Isolated: one function (auto keeps it isolated), its ends on the host. Fused: two functions
 * in one image, its ends in the replica (ARCHITECTURE.md "Placements"), which `up` says, and
 * whose figures (frames, flows moved) are the replica's counters.
 */
const PLACEMENTS = [
  { placement: 'isolated', file: specFile, functions: ['hop'], created: String.raw`1 function isolated \(auto: one function, nothing to fuse\), phase Ready\n` },
  {
    placement: 'fused',
    file: fusedSpecFile,
    functions: ['hop', 'hop2'],
    created: String.raw`2 functions fused \(spec\.placement: fused\), phase Ready\nchain\/up-it ends on the replicas: .+\n`,
  },
];

describe.each(PLACEMENTS)('nfvkit up ($placement placement)', ({ placement, file, functions, created }) => {
  it('runs a chain for --duration, shows live per-function rates and a summary, and exits 0', async () => {
    // The fused chain gets its own store and data directory: the other runs here neither
    // restore it nor find its image.
    const run = up(['--duration', '3'], file, placement === 'fused' ? mkdtempSync(join(dir, 'fused-')) : dir);
    const [code] = (await once(run.child, 'exit')) as [number];
    const out = run.output();
    expect(code, out).toBe(0);
    expect(out).toMatch(/^nfvkit up: controller gRPC on 127\.0\.0\.1:\d+ \(plaintext\)\nnfvkit up: metrics on http:\/\/127\.0\.0\.1:\d+\/metrics\nnfvkit up: packet I\/O (native addon|dgram fallback) .+\nnfvkit up: instances run as (sandboxed processes|worker threads) .+\nnfvkit up: spec files read from \S+\/data\/read, written to \S+\/data\/write\nnfvkit up: image store \S+\/store: unused images removed 10m after their last use, no size cap\n(?:nfvkit up: state .+\n)?chain\/up-it created in [\d.]+ s: /m);
    expect(out).toMatch(new RegExp(String.raw`\nchain\/up-it created in [\d.]+ s: ` + created));
    expect(out).toMatch(/\nCHAIN\s+FUNCTION\s+INST\s+RX PPS\s+TX PPS\s+DROP\/S\s+RX BIT\/S\s+QUEUE\s+BUSY\n/);
    // A row per function (a fused replica counts for each of its functions).
    for (const fn of functions) {
      const rows = [...out.matchAll(new RegExp(String.raw`^up-it\s+${fn}\s+1\s+(\S+)\s+(\S+)\s`, 'gm'))];
      expect(rows.length, fn).toBeGreaterThanOrEqual(2);
      expect(Math.max(...rows.map((m) => rate(m[1]))), fn).toBeGreaterThan(1000);
    }
    expect(out).toContain('stopping: duration reached; draining flows for up to 1000 ms');
    const framesIn = Number(/\n {2}frames in {3}(\d+) inside/.exec(out)?.[1]);
    const framesOut = Number(/\n {2}frames out {2}(\d+) outside/.exec(out)?.[1]);
    expect(framesIn).toBeGreaterThan(10_000);
    expect(framesOut).toBeGreaterThan(0);
    expect(framesOut).toBeLessThanOrEqual(framesIn);
    expect(out).toMatch(/\n {2}shutdown {4}0 buffers leaked, \d+ flows still open when stopped\n$/);
    // Flows are moved between replicas only where the ends run in them.
    if (placement === 'fused') expect(out).toMatch(/\n {2}flows moved 0 closed by the replica giving them up, 0 opened anew by the one taking them\n/);
    else expect(out).not.toContain('flows moved');
  });
});

describe('nfvkit up', () => {

  it('serves gRPC and metrics while running and stops cleanly on SIGTERM', async () => {
    const run = up(['--no-top', '--image-grace', '90s', '--image-store-cap', '1Gi']);
    await run.waitFor('running until Ctrl-C');
    expect(run.output()).toContain(`nfvkit up: image store ${join(dir, 'store')}: unused images removed 1m30s after their last use, cap 1.0 GiB\n`);
    const metricsUrl = /metrics on (http:\S+)/.exec(run.output())?.[1] as string;
    const grpcAddress = /controller gRPC on (\S+)/.exec(run.output())?.[1] as string;
    const scrape = await (await fetch(metricsUrl)).text();
    expect(scrape).toMatch(/^nfvkit_function_packets_total\{[^}]*chain="up-it"[^}]*instance="up-it\/hop-0"[^}]*\} [1-9]\d*$/m);
    expect(scrape).toMatch(/^nfvkit_image_store_images\{state="in_use"\} 1$/m);
    expect(scrape).toMatch(/^nfvkit_image_store_cap_bytes 1073741824$/m);

    const get = spawn(tsx, [cli, 'get', 'instances', '--server', grpcAddress]);
    let listed = '';
    get.stdout.on('data', (d: Buffer) => (listed += d.toString()));
    const [getCode] = (await once(get, 'exit')) as [number];
    expect(getCode).toBe(0);
    expect(listed).toMatch(/\nup-it\/hop-0\s+hop\s+ready\s/);

    run.child.kill('SIGTERM');
    const [code] = (await once(run.child, 'exit')) as [number];
    expect(code, run.output()).toBe(0);
    expect(run.output()).toContain('stopping: interrupted; draining flows');
    expect(run.output()).toMatch(/0 buffers leaked/);
    expect(run.output()).not.toMatch(/\nCHAIN\s+FUNCTION/);
  });

  it('refuses a bad --image-grace or --image-store-cap with exit 2', async () => {
    for (const bad of [['--image-grace', 'soon'], ['--image-store-cap', '0']]) {
      const run = up([...bad, '--duration', '1']);
      const [code] = (await once(run.child, 'exit')) as [number];
      expect(code, run.output()).toBe(2);
      expect(run.output()).toContain(`option '${bad[0]}`);
      expect(run.output()).not.toContain('controller gRPC on');
    }
  });

  it('refuses --metrics on a non-loopback address without TLS, a token or --metrics-unauthenticated (exit 2)', async () => {
    const run = up(['--metrics', '0.0.0.0:0', '--duration', '1']);
    const [code] = (await once(run.child, 'exit')) as [number];
    expect(code, run.output()).toBe(2);
    expect(run.output()).toMatch(/refusing to serve \/metrics on 0\.0\.0\.0:0 without TLS or a token/);
    expect(run.output()).not.toContain('controller gRPC on');
  });

  it('serves /metrics to the network with --metrics-unauthenticated, and asks for the token when one is set', async () => {
    const open = up(['--metrics', '0.0.0.0:0', '--metrics-unauthenticated', '--no-top']);
    await open.waitFor('running until Ctrl-C');
    const port = /metrics on http:\/\/0\.0\.0\.0:(\d+)\/metrics\n/.exec(open.output())?.[1];
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(200);
    open.child.kill('SIGTERM');
    expect(((await once(open.child, 'exit')) as [number])[0], open.output()).toBe(0);

    const guarded = up(['--metrics', '0.0.0.0:0', '--token', 's3cret', '--no-top']);
    await guarded.waitFor('running until Ctrl-C');
    const at = /metrics on http:\/\/0\.0\.0\.0:(\d+)\/metrics \(token required\)/.exec(guarded.output())?.[1];
    expect((await fetch(`http://127.0.0.1:${at}/metrics`)).status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${at}/metrics`, { headers: { authorization: 'Bearer s3cret' } })).status).toBe(200);
    guarded.child.kill('SIGTERM');
    expect(((await once(guarded.child, 'exit')) as [number])[0], guarded.output()).toBe(0);
  });
});
