import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { summarizeChain } from '../../../src/controller/chain-list.ts';
import { controllerServiceDefinition } from '../../../src/grpc/controller-proto.ts';
import { formatRpcError } from '../../../src/grpc/controller-rpc-error.ts';
import { decodeStatusDetails, STATUS_DETAILS_KEY } from '../../../src/grpc/status-details.ts';
import { SECRET_DETAIL, specYaml } from './fake-controller.ts';
import { rpcError, startHarness, type Harness } from './grpc-harness.ts';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h.close();
});

/** ListChains over a bare grpc-js client: the response's size on the wire and its decoded form. */
async function rawListChains(request: object): Promise<{ bytes: number; chains: { name: string }[] }> {
  const raw = new Client(h.server.address, credentials.createInsecure());
  const method = controllerServiceDefinition().ListChains;
  try {
    const body = await new Promise<Buffer>((resolve, reject) => {
      raw.makeUnaryRequest(method.path, method.requestSerialize, (b: Buffer) => b, request, new Metadata(), {}, (e, res) => (e ? reject(e) : resolve(res as Buffer)));
    });
    return { bytes: body.length, chains: (method.responseDeserialize(body) as { chains: { name: string }[] }).chains };
  } finally {
    raw.close();
  }
}

beforeEach(() => {
  h.fake.chains.clear();
  h.fake.instances = [];
  h.internalErrors.length = 0;
});

describe('ApplyChain', () => {
  it('applies a spec, and applying it again changes nothing', async () => {
    const first = await h.client.applyChain(specYaml('web-edge'), 'web-edge.yaml');
    expect(first.changed).toBe(true);
    expect(first.chain).toMatchObject({ name: 'web-edge', generation: 1, phase: 'Ready', specYaml: specYaml('web-edge'), appliedAt: h.fake.now });
    expect(first.chain.functions).toEqual(h.fake.getChain('web-edge').functions);
    const again = await h.client.applyChain(specYaml('web-edge'), 'web-edge.yaml');
    expect(again.changed).toBe(false);
    expect(again.chain.generation).toBe(1);
    const changed = await h.client.applyChain(specYaml('web-edge', 8), 'web-edge.yaml');
    expect(changed).toMatchObject({ changed: true, chain: { generation: 2 } });
  });

  it('returns INVALID_ARGUMENT with every config issue as a BadRequest field violation', async () => {
    const bad = ['name: broken', 'functions:', '  - name: lb', '    function: load-balancer', '    min: 5', '    max: 2', '  - name: x', ''].join('\n');
    const err = await rpcError(h.client.applyChain(bad, 'broken.yaml'));
    expect(err.status).toBe(status.INVALID_ARGUMENT);
    expect(err.nfvkitCode).toBe('NFVKIT_ERR_CONFIG_INVALID');
    expect(err.fieldViolations).toEqual([
      { field: 'functions[0].max', description: 'broken.yaml:6:10 must be >= min (5)' },
      { field: 'functions[1].function', description: 'broken.yaml:7:5 needs a function' },
    ]);
    expect(err.message.split('\n')).toEqual([
      'chain spec broken.yaml: 2 problem(s)',
      '  broken.yaml:6:10 functions[0].max: must be >= min (5)',
      '  broken.yaml:7:5 functions[1].function: needs a function',
    ]);
    expect(formatRpcError(err)).toBe(
      [
        'INVALID_ARGUMENT (NFVKIT_ERR_CONFIG_INVALID): chain spec broken.yaml: 2 problem(s)',
        '  functions[0].max: broken.yaml:6:10 must be >= min (5)',
        '  functions[1].function: broken.yaml:7:5 needs a function',
      ].join('\n'),
    );
  });

  it('rejects an empty spec and a non-mapping spec with INVALID_ARGUMENT', async () => {
    const empty = await rpcError(h.client.applyChain('   ', 'x.yaml'));
    expect(empty.status).toBe(status.INVALID_ARGUMENT);
    expect(empty.nfvkitCode).toBe('NFVKIT_ERR_INVALID_ARGUMENT');
    expect(empty.fieldViolations).toEqual([{ field: 'yaml', description: 'must not be empty' }]);
    const list = await rpcError(h.client.applyChain('- a\n- b\n', 'x.yaml'));
    expect(list.status).toBe(status.INVALID_ARGUMENT);
    expect(list.message).toBe('a chain spec must be a YAML mapping');
    expect(list.fieldViolations).toEqual([]);
  });

  it('names the spec <request> when no source is given', async () => {
    const err = await rpcError(h.client.applyChain('functions: []\n'));
    expect(err.fieldViolations[0]).toEqual({ field: 'name', description: '<request> must be a non-empty string' });
    expect(err.message).toContain('chain spec <request>');
  });

  it('maps an unexpected error to INTERNAL without leaking it, and reports it to the server log', async () => {
    const err = await rpcError(h.client.applyChain(specYaml('explode')));
    expect(err.status).toBe(status.INTERNAL);
    expect(err.message).toBe('internal error (details are in the controller log)');
    expect(err.nfvkitCode).toBeUndefined();
    expect(JSON.stringify(err.metadata?.getMap())).not.toContain('secret');
    expect(h.internalErrors).toHaveLength(1);
    expect(h.internalErrors[0].method).toBe('ApplyChain');
    expect((h.internalErrors[0].err as Error).message).toBe(SECRET_DETAIL);
  });

  it('sends google.rpc.Status in the grpc-status-details-bin trailer to any grpc-js client', async () => {
    const raw = new Client(h.server.address, credentials.createInsecure());
    const method = controllerServiceDefinition().ApplyChain;
    const err = await new Promise<ServiceError>((resolve, reject) => {
      raw.makeUnaryRequest(method.path, method.requestSerialize, method.responseDeserialize, { yaml: 'name: x\nfunctions: 3\n', source: 's.yaml' }, new Metadata(), {}, (e) =>
        e ? resolve(e) : reject(new Error('call succeeded')),
      );
    });
    raw.close();
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    const bin = err.metadata.get(STATUS_DETAILS_KEY)[0];
    expect(Buffer.isBuffer(bin)).toBe(true);
    expect(decodeStatusDetails(err.metadata)).toEqual({
      code: status.INVALID_ARGUMENT,
      message: err.details,
      reason: 'NFVKIT_ERR_CONFIG_INVALID',
      domain: 'nfvkit',
      fieldViolations: [{ field: 'functions', description: 's.yaml:2:12 must be a list' }],
    });
  });
});

describe('GetChain and ListChains', () => {
  it('gets one chain and lists all', async () => {
    await h.client.applyChain(specYaml('a'), 'a.yaml');
    await h.client.applyChain(specYaml('b'), 'b.yaml');
    expect(await h.client.getChain('b')).toEqual(h.fake.getChain('b'));
    const all = await h.client.listChains();
    expect(all.map((c) => c.name)).toEqual(['a', 'b']);
    expect(all).toEqual(h.fake.listChains().map(summarizeChain));
    expect(all[0]).toEqual({
      name: 'a',
      generation: 1,
      phase: 'Ready',
      placement: 'isolated',
      appliedAt: h.fake.now,
      functions: [
        { name: 'fw', function: 'firewall', readyReplicas: 1, desiredReplicas: 1 },
        { name: 'lb', function: 'load-balancer', readyReplicas: 2, desiredReplicas: 2 },
      ],
    });
    expect(all[0]).not.toHaveProperty('specYaml');
  });

  it('lists two ≈2 MB specs as summaries: ListChains stays small (the spec only from GetChain)', async () => {
    // 40k labels ≈ 2.1 MB each: echoing both specs would pass grpc-js's 4 MiB message limit (RESOURCE_EXHAUSTED).
    const big = (name: string): string => specYaml(name) + 'labels:\n' + Array.from({ length: 40_000 }, (_, i) => `  label-${String(i).padStart(6, '0')}: value-${name}-${i}-padding-padding-pad\n`).join('');
    for (const name of ['big-a', 'big-b']) {
      const text = big(name);
      expect(text.length).toBeGreaterThan(2_000_000);
      await h.client.applyChain(text, `${name}.yaml`);
    }
    const raw = await rawListChains({});
    expect(raw.chains.map((c) => c.name)).toEqual(['big-a', 'big-b']);
    expect(raw.bytes).toBeLessThan(500);
    expect((await h.client.listChains()).map((c) => c.name)).toEqual(['big-a', 'big-b']);
    expect((await h.client.getChain('big-b')).specYaml.length).toBeGreaterThan(2_000_000);
  });

  it('pages: every chain exactly once over several pages, by name; page_size 0 means 100, more than 1000 is 1000', async () => {
    const names = Array.from({ length: 23 }, (_, i) => `chain-${String((i * 7) % 23).padStart(2, '0')}`);
    for (const name of names) await h.client.applyChain(specYaml(name), `${name}.yaml`);
    const seen: string[] = [];
    let token = '';
    let pages = 0;
    do {
      const page = await h.client.listChainsPage({ pageSize: 5, pageToken: token });
      expect(page.chains.length).toBeLessThanOrEqual(5);
      seen.push(...page.chains.map((c) => c.name));
      token = page.nextPageToken;
      pages++;
    } while (token !== '');
    expect(pages).toBe(5);
    expect(seen).toEqual([...names].sort());
    const calls = h.fake.listCalls;
    expect((await h.client.listChains({ pageSize: 4 })).map((c) => c.name)).toEqual([...names].sort());
    expect(h.fake.listCalls - calls).toBe(6);
    expect((await h.client.listChainsPage()).chains).toHaveLength(23);
    expect((await h.client.listChainsPage({ pageSize: 100_000 })).nextPageToken).toBe('');
  });

  it('pages stay exact while chains come and go between pages', async () => {
    for (const name of ['c1', 'c2', 'c3', 'c4', 'c5', 'c6']) await h.client.applyChain(specYaml(name), `${name}.yaml`);
    const first = await h.client.listChainsPage({ pageSize: 3 });
    expect(first.chains.map((c) => c.name)).toEqual(['c1', 'c2', 'c3']);
    await h.client.deleteChain('c3');
    await h.client.deleteChain('c4');
    await h.client.applyChain(specYaml('c0'), 'c0.yaml');
    await h.client.applyChain(specYaml('c45'), 'c45.yaml');
    const second = await h.client.listChainsPage({ pageSize: 3, pageToken: first.nextPageToken });
    expect(second.chains.map((c) => c.name)).toEqual(['c45', 'c5', 'c6']);
    expect(second.nextPageToken).toBe('');
  });

  it('refuses a page token it did not issue with INVALID_ARGUMENT', async () => {
    for (const token of ['garbage!', Buffer.from('before:x').toString('base64url'), 'x'.repeat(500)]) {
      const err = await rpcError(h.client.listChainsPage({ pageToken: token }));
      expect(err.status).toBe(status.INVALID_ARGUMENT);
      expect(err.message).toMatch(/page_token is not a token of this controller/);
    }
  });

  it('returns an empty list with no chains', async () => {
    await h.client.waitForReady(5000);
    expect(await h.client.listChains()).toEqual([]);
  });

  it('returns NOT_FOUND for an unknown chain and INVALID_ARGUMENT for an empty name', async () => {
    const missing = await rpcError(h.client.getChain('nope'));
    expect(missing.status).toBe(status.NOT_FOUND);
    expect(missing.nfvkitCode).toBe('NFVKIT_ERR_NOT_FOUND');
    expect(missing.message).toBe("no chain named 'nope'");
    expect(formatRpcError(missing)).toBe("NOT_FOUND (NFVKIT_ERR_NOT_FOUND): no chain named 'nope'");
    const empty = await rpcError(h.client.getChain(''));
    expect(empty.status).toBe(status.INVALID_ARGUMENT);
    expect(empty.fieldViolations).toEqual([{ field: 'name', description: 'must not be empty' }]);
  });
});

describe('DeleteChain', () => {
  it('deletes a chain, then the chain is gone', async () => {
    await h.client.applyChain(specYaml('gone'));
    await h.client.deleteChain('gone');
    expect((await rpcError(h.client.getChain('gone'))).status).toBe(status.NOT_FOUND);
    expect(h.fake.events.at(-1)).toMatchObject({ type: 'deleted', chain: 'gone' });
  });

  it('returns NOT_FOUND for an unknown chain, INVALID_ARGUMENT for an empty name', async () => {
    expect((await rpcError(h.client.deleteChain('nope'))).status).toBe(status.NOT_FOUND);
    expect((await rpcError(h.client.deleteChain(''))).status).toBe(status.INVALID_ARGUMENT);
  });

  it('returns FAILED_PRECONDITION while the chain is still draining', async () => {
    await h.client.applyChain(specYaml('slow'));
    h.fake.deleteDelayMs = 300;
    try {
      const first = h.client.deleteChain('slow');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect((await h.client.getChain('slow')).phase).toBe('Deleting');
      const second = await rpcError(h.client.deleteChain('slow'));
      expect(second.status).toBe(status.FAILED_PRECONDITION);
      expect(second.nfvkitCode).toBe('NFVKIT_ERR_FAILED_PRECONDITION');
      await first;
    } finally {
      h.fake.deleteDelayMs = 0;
    }
  });
});

describe('ListInstances', () => {
  it('lists every instance, or one chain’s, with states and figures intact', async () => {
    await h.client.applyChain(specYaml('a'));
    await h.client.applyChain(specYaml('b'));
    h.fake.instances[0] = { ...h.fake.instances[0], state: 'draining', reason: 'rolling update', flows: 17 };
    const all = await h.client.listInstances();
    expect(all).toHaveLength(6);
    expect(all).toEqual(h.fake.instances);
    expect(all[0]).toMatchObject({ id: 'a/fw-1', state: 'draining', reason: 'rolling update', bootMs: 12.5, flows: 17 });
    const onlyB = await h.client.listInstances('b');
    expect(onlyB.map((i) => i.id)).toEqual(['b/fw-1', 'b/lb-1', 'b/lb-2']);
  });

  it('returns NOT_FOUND for an unknown chain', async () => {
    expect((await rpcError(h.client.listInstances('nope'))).status).toBe(status.NOT_FOUND);
  });
});

describe('ScaleFunction', () => {
  it('sets replicas within min..max', async () => {
    await h.client.applyChain(specYaml('s'));
    const fn = await h.client.scaleFunction('s', 'lb', 4);
    expect(fn).toEqual({ name: 'lb', function: 'load-balancer', imageId: 'img-load-balancer-1', desiredReplicas: 4, readyReplicas: 2, min: 2, max: 4, target: 1_000_000, failures: 0, restartDelayMs: 0, nextRestartAt: 0 });
    expect((await h.client.getChain('s')).functions[1].desiredReplicas).toBe(4);
  });

  it('returns FAILED_PRECONDITION outside min..max', async () => {
    await h.client.applyChain(specYaml('s'));
    const err = await rpcError(h.client.scaleFunction('s', 'lb', 9));
    expect(err.status).toBe(status.FAILED_PRECONDITION);
    expect(err.message).toBe('replicas 9 outside 2..4 for s/lb');
  });

  it('returns NOT_FOUND for an unknown chain or function', async () => {
    await h.client.applyChain(specYaml('s'));
    expect((await rpcError(h.client.scaleFunction('t', 'lb', 2))).status).toBe(status.NOT_FOUND);
    const fn = await rpcError(h.client.scaleFunction('s', 'nat', 2));
    expect(fn.status).toBe(status.NOT_FOUND);
    expect(fn.message).toBe("chain 's' has no function 'nat'");
  });

  it('returns INVALID_ARGUMENT listing every missing field', async () => {
    const err = await rpcError(h.client.scaleFunction('', ' ', 1));
    expect(err.status).toBe(status.INVALID_ARGUMENT);
    expect(err.fieldViolations).toEqual([
      { field: 'chain', description: 'must not be empty' },
      { field: 'function', description: 'must not be empty' },
    ]);
  });
});
