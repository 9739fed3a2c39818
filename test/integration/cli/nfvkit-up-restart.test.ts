import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ControllerEvent } from '../../../src/controller/controller-api.ts';
import { StateStore } from '../../../src/controller/state-store.ts';
import { createControllerClient, type ControllerClient } from '../../../src/grpc/controller-client.ts';

const cli = join(process.cwd(), 'src/cli/nfvkit.ts');
const dir = mkdtempSync(join(tmpdir(), 'nfvkit-up-restart-'));
const stateDir = join(dir, 'state');

/** Low, paced traffic and a long cooldown: the autoscaler never moves the replicas the test checks. */
const chain = (name: string, verify: boolean): string => `apiVersion: nfvkit.dev/v1
kind: ServiceFunctionChain
metadata: { name: ${name} }
spec:
  ingress: { type: generator, flows: 16, rate: 200 }
  egress: { type: sink }
  functions:
    - name: hop
      function: pass-through
      config: { verifyL4Checksum: ${verify} }
      scaling: { min: 1, max: 3, cooldownSeconds: 600 }
      resources: { memory: 32Mi }
  placement: isolated
`;

const children: ChildProcessWithoutNullStreams[] = [];
const clients: ControllerClient[] = [];
afterAll(() => {
  for (const c of clients) c.close();
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Resolves with `what` once `ready()` holds, rejects after `ms` (naming what it waited for). */
function within<T>(ms: number, what: string, wait: (done: (value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    wait((value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

/**
 * `nfvkit up` on the test's state directory, as node itself with the tsx loader: a SIGKILL
 * reaches the controller process (through the tsx wrapper it would only kill the wrapper).
 */
function up(): { child: ChildProcessWithoutNullStreams; output: () => string; waitFor: (text: string, ms: number) => Promise<void>; exited: Promise<[number | null, string | null]> } {
  const child = spawn(process.execPath, ['--import', 'tsx', cli, 'up', '--listen', '127.0.0.1:0', '--no-metrics', '--no-top', '--warm', '0', '--drain', '0', '--store', join(dir, 'images'), '--state-dir', stateDir]);
  children.push(child);
  let out = '';
  const waiters: { text: string; resolve: () => void }[] = [];
  const exited = new Promise<[number | null, string | null]>((resolve) => child.on('exit', (code, signal) => resolve([code, signal])));
  const feed = (d: Buffer): void => {
    out += d.toString();
    for (const w of waiters.filter((w) => out.includes(w.text))) w.resolve();
  };
  child.stdout.on('data', feed);
  child.stderr.on('data', feed);
  return {
    child,
    output: () => out,
    exited,
    waitFor: (text, ms) =>
      within<void>(ms, `"${text}" in the output of nfvkit up:\n${out}`, (done) => {
        if (out.includes(text)) done();
        else {
          waiters.push({ text, resolve: () => done() });
          void exited.then(() => setTimeout(() => (out.includes(text) ? done() : undefined), 0));
        }
      }),
  };
}

/** Runs the `nfvkit` CLI to completion (bounded); stdout, stderr and exit code. */
async function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args]);
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await within<number | null>(30_000, `nfvkit ${args.join(' ')}`, (done) => child.on('exit', (c) => done(c)));
  return { code, stdout, stderr };
}

const grpcAddress = (out: string): string => /controller gRPC on (\S+)/.exec(out)?.[1] as string;

describe('nfvkit up restores its chains after a SIGKILL', () => {
  it('two chains, one scaled by hand, killed during an apply: both come back with the same generation and replicas', { timeout: 180_000 }, async () => {
    const first = up();
    await first.waitFor('running until Ctrl-C', 60_000);
    expect(first.output()).toContain(`nfvkit up: state in ${stateDir}: nothing to restore`);
    const rpc = createControllerClient(grpcAddress(first.output()));
    clients.push(rpc);
    await rpc.applyChain(chain('alpha', false), 'alpha.yaml');
    await rpc.applyChain(chain('beta', false), 'beta.yaml');
    expect((await rpc.applyChain(chain('alpha', true), 'alpha.yaml')).chain.generation).toBe(2);
    await rpc.scaleFunction('alpha', 'hop', 2);
    const before = await rpc.listChains();
    expect(before.map((c) => [c.name, c.generation, c.phase, c.functions.map((f) => [f.desiredReplicas, f.readyReplicas])])).toEqual([
      ['alpha', 2, 'Ready', [[2, 2]]],
      ['beta', 1, 'Ready', [[1, 1]]],
    ]);

    // A rolling update of alpha (new image, new instances): kill the controller once it has begun.
    const events: ControllerEvent[] = [];
    const stream = rpc.watchEvents({ afterSeq: Math.max(0, ...(await collectSeq(rpc))) });
    const rolling = within<void>(30_000, 'the rolling update to begin', (done) => {
      void (async () => {
        for await (const e of stream) {
          events.push(e);
          if (e.type === 'applied' && e.chain === 'alpha' && e.reason.startsWith('rolling update')) return done();
        }
      })().catch(() => undefined);
    });
    const apply = rpc.applyChain(chain('alpha', false).replace('memory: 32Mi', 'memory: 48Mi'), 'alpha.yaml').then(
      () => 'completed',
      () => 'interrupted',
    );
    await rolling;
    first.child.kill('SIGKILL');
    expect(await within(15_000, 'the killed controller to exit', (done) => void first.exited.then(done))).toEqual([null, 'SIGKILL']);
    stream.cancel();
    const applyOutcome = await within(15_000, 'the interrupted apply to fail', (done) => void apply.then(done));

    // The snapshot on disk is whole: alpha's old spec at generation 2, or (had the apply finished) the new one at 3.
    const stored = StateStore.open(stateDir);
    const onDisk = stored.load();
    await stored.close();
    const alphaOnDisk = onDisk.chains.find((c) => c.name === 'alpha');
    expect(onDisk.chains.map((c) => c.name)).toEqual(['alpha', 'beta']);
    const expectedAlpha = alphaOnDisk?.generation === 3 ? chain('alpha', false).replace('memory: 32Mi', 'memory: 48Mi') : chain('alpha', true);
    expect(applyOutcome === 'completed' ? [3] : [2, 3]).toContain(alphaOnDisk?.generation);
    expect(alphaOnDisk).toMatchObject({ specYaml: expectedAlpha, replicas: { hop: 2 } });

    const second = up();
    try {
      await second.waitFor('running until Ctrl-C', 60_000);
      expect(second.output()).toMatch(new RegExp(`nfvkit up: state in ${stateDir}: restored 2 chains: alpha \\(generation ${alphaOnDisk?.generation}\\), beta \\(generation 1\\)\\n`));
      const address = grpcAddress(second.output());
      const rpc2 = createControllerClient(address);
      clients.push(rpc2);
      // ListChains may return summaries: GetChain has the spec.
      const after = await Promise.all((await rpc2.listChains()).map((c) => rpc2.getChain(c.name)));
      expect(after.map((c) => [c.name, c.generation, c.phase, c.specYaml, c.functions.map((f) => [f.desiredReplicas, f.readyReplicas])])).toEqual([
        ['alpha', alphaOnDisk?.generation, 'Ready', expectedAlpha, [[2, 2]]],
        ['beta', 1, 'Ready', chain('beta', false), [[1, 1]]],
      ]);
      expect(after.find((c) => c.name === 'beta')?.appliedAt).toBe(before.find((c) => c.name === 'beta')?.appliedAt);

      const get = await runCli(['get', 'chains', '--server', address]);
      expect(get.code, get.stderr).toBe(0);
      expect(get.stdout).toMatch(new RegExp(`\\nalpha\\s+Ready\\s+${alphaOnDisk?.generation}\\s+hop\\s+2/2\\s`));
      expect(get.stdout).toMatch(/\nbeta\s+Ready\s+1\s+hop\s+1\/1\s/);

      second.child.kill('SIGTERM');
      expect(await within(30_000, 'nfvkit up to stop on SIGTERM', (done) => void second.exited.then(done))).toEqual([0, null]);
    } finally {
      if (second.child.exitCode === null && second.child.signalCode === null) second.child.kill('SIGKILL');
    }
    // A clean stop keeps the chains stored.
    const kept = StateStore.open(stateDir);
    expect(kept.load().chains.map((c) => [c.name, c.generation])).toEqual([
      ['alpha', alphaOnDisk?.generation],
      ['beta', 1],
    ]);
    await kept.close();
  });
});

/** Sequence numbers of the events so far (to watch only what follows). */
async function collectSeq(rpc: ControllerClient): Promise<number[]> {
  const seqs: number[] = [];
  const stream = rpc.watchEvents({ afterSeq: 0 });
  await within<void>(5000, 'the event history', (done) => {
    const timer = setTimeout(done, 300);
    void (async () => {
      for await (const e of stream) {
        seqs.push(e.seq);
        timer.refresh();
      }
    })().catch(() => undefined);
  });
  stream.cancel();
  return seqs;
}
