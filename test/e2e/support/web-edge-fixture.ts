import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { registerBuiltinFunctions } from '../../../functions/index.ts';
import { ImageStore } from '../../../src/image/image-store.ts';
import type { LabProcess } from '../../../src/netlab/lab-process.ts';
import { startWebEdgeChain, type WebEdgeChain, type WebEdgeChainOptions } from '../../../src/netlab/web-edge-chain.ts';
import { WebLab, type WebLabOptions } from '../../../src/netlab/web-lab.ts';
import { FunctionRegistry } from '../../../src/pipeline/function-registry.ts';

/** What a web-edge e2e suite works with, set up by `useWebEdgeLab`. */
export interface WebEdgeLab {
  /** The lab (namespaces, backends). */
  readonly web: WebLab;
  /** The controller and the applied web-edge chain. */
  readonly edge: WebEdgeChain;
  /** The HTTP agent in the client namespace (`http-agent.ts`). */
  readonly agent: LabProcess;
  /** The agent's Unix socket (`callAgent`). */
  readonly sock: string;
}

/**
 * Registers the suite's `beforeAll`/`afterAll`: a web lab, the web-edge chain applied by its
 * own controller (temporary image store) and the HTTP agent in the client namespace; after
 * the suite, the chain closed, the lab destroyed and the directory removed, whatever
 * happened. The fields are read inside tests (they throw before `beforeAll` has run).
 *
 * @example
 * ```ts
 * const lab = useWebEdgeLab('nfvkit-web-e2e-', { placement });
 * it('…', async () => { await callAgent(lab.sock, { op: 'get', url, count: 1 }); });
 * ```
 */
export function useWebEdgeLab(dirPrefix: string, chain: Omit<WebEdgeChainOptions, 'registry' | 'store'>, labOptions: WebLabOptions = {}): WebEdgeLab {
  let state: { web: WebLab; edge?: WebEdgeChain; agent?: LabProcess; sock: string; dir: string } | undefined;
  const ready = () => {
    if (state?.edge === undefined || state.agent === undefined) throw new Error('the web-edge lab is not set up (beforeAll failed or has not run)');
    return state as Required<typeof state>;
  };
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), dirPrefix));
    const sock = join(dir, 'agent.sock');
    try {
      state = { web: await WebLab.create(labOptions), sock, dir };
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    state.edge = await startWebEdgeChain(state.web, { ...chain, registry: registerBuiltinFunctions(new FunctionRegistry()), store: ImageStore.open(join(dir, 'store')) });
    state.agent = state.web.lab.spawnNode(state.web.client, new URL('./http-agent.ts', import.meta.url), [sock]);
    await state.agent.waitForOutput(/ready/, 20_000);
  });
  afterAll(async () => {
    if (state === undefined) return;
    await state.edge?.close().catch(() => undefined);
    await state.web.destroy();
    rmSync(state.dir, { recursive: true, force: true });
  });
  return {
    get web() {
      return ready().web;
    },
    get edge() {
      return ready().edge;
    },
    get agent() {
      return ready().agent;
    },
    get sock() {
      return ready().sock;
    },
  };
}
