/**
 * An in-memory `ControllerApi` for the gRPC tests: a tiny YAML spec (`name`, `functions[]`
 * with `name`, `function`, `min`, `max`, `target`), events, instances and rates, and the
 * catalog errors of the real controller on the error paths. A chain named `explode` makes
 * `apply` throw a plain Error (the INTERNAL path); `failStats` makes `stats` throw one.
 */
import { LineCounter, parseDocument, isMap, type Node } from 'yaml';
import type { CaptureSession } from '../../../src/capture/capture-session.ts';
import type { TraceSession } from '../../../src/trace/trace-session.ts';
import { pageOfChains, summarizeChain } from '../../../src/controller/chain-list.ts';
import type { BackendStateName } from '../../../src/backends/backend-control-layout.ts';
import type { BackendStatus } from '../../../src/controller/backend-status.ts';
import type {
  ApplyResult,
  ChainPage,
  ChainStatus,
  ChainTraffic,
  ControllerApi,
  ControllerEvent,
  FunctionStatus,
  InstanceRates,
  InstanceStatus,
  ListChainsRequest,
  Unsubscribe,
} from '../../../src/controller/controller-api.ts';
import {
  ConfigValidationError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  type ConfigIssue,
} from '../../../src/errors/catalog.ts';

interface FakeFunction {
  name: string;
  function: string;
  min: number;
  max: number;
  target: number;
}

interface FakeChain {
  status: ChainStatus;
  deleting: boolean;
}

export const SECRET_DETAIL = 'secret-internal-detail at /srv/nfvkit/reconciler.ts:42';

export class FakeController implements ControllerApi {
  readonly chains = new Map<string, FakeChain>();
  instances: InstanceStatus[] = [];
  readonly events: ControllerEvent[] = [];
  private readonly listeners = new Set<(e: ControllerEvent) => void>();
  failStats = false;
  statsCalls = 0;
  listCalls = 0;
  deleteDelayMs = 0;
  now = 1_700_000_000_000;

  get listenerCount(): number {
    return this.listeners.size;
  }

  async apply(yamlText: string, source: string): Promise<ApplyResult> {
    const fns = this.parse(yamlText, source);
    const name = fns.name;
    if (name === 'explode') throw new Error(SECRET_DETAIL);
    const existing = this.chains.get(name);
    if (existing?.deleting) throw new FailedPreconditionError(`chain ${name} is being deleted`);
    if (existing && existing.status.specYaml === yamlText) return { chain: existing.status, changed: false };
    const generation = (existing?.status.generation ?? 0) + 1;
    const functions: FunctionStatus[] = fns.functions.map((f) => ({
      name: f.name,
      function: f.function,
      imageId: `img-${f.function}-${generation}`,
      desiredReplicas: f.min,
      readyReplicas: f.min,
      min: f.min,
      max: f.max,
      target: f.target,
      failures: 0,
      restartDelayMs: 0,
      nextRestartAt: 0,
    }));
    const status: ChainStatus = { name, generation, phase: 'Ready', phaseReason: '', functions, specYaml: yamlText, appliedAt: this.now , placement: 'isolated', placementReason: 'spec.placement: isolated'};
    this.chains.set(name, { status, deleting: false });
    this.instances = this.instances.filter((i) => i.chain !== name);
    for (const f of functions) {
      for (let n = 1; n <= f.desiredReplicas; n++) this.instances.push(this.instance(name, f, n));
    }
    this.emit({ type: 'applied', chain: name, reason: `generation ${generation}`, details: { generation: String(generation) } });
    return { chain: status, changed: true };
  }

  getChain(name: string): ChainStatus {
    const chain = this.chains.get(name);
    if (!chain) throw new NotFoundError(`no chain named '${name}'`);
    return chain.status;
  }

  listChains(): ChainStatus[] {
    return [...this.chains.values()].map((c) => c.status);
  }

  /** Pages of summaries, the real controller's way (`pageOfChains`); counts calls. */
  listChainSummaries(request: ListChainsRequest = {}): ChainPage {
    this.listCalls++;
    return pageOfChains(this.chains.values(), (c) => c.status.name, request, (c) => summarizeChain(c.status));
  }

  async deleteChain(name: string): Promise<void> {
    const chain = this.chains.get(name);
    if (!chain) throw new NotFoundError(`no chain named '${name}'`);
    if (chain.deleting) throw new FailedPreconditionError(`chain '${name}' is already being deleted`);
    chain.deleting = true;
    chain.status = { ...chain.status, phase: 'Deleting' };
    await new Promise((resolve) => setTimeout(resolve, this.deleteDelayMs));
    this.chains.delete(name);
    this.instances = this.instances.filter((i) => i.chain !== name);
    this.emit({ type: 'deleted', chain: name, reason: 'drained and stopped' });
  }

  listInstances(chain?: string): InstanceStatus[] {
    if (chain === undefined) return [...this.instances];
    this.getChain(chain);
    return this.instances.filter((i) => i.chain === chain);
  }

  async scaleFunction(chain: string, fn: string, replicas: number): Promise<FunctionStatus> {
    const c = this.chains.get(chain);
    if (!c) throw new NotFoundError(`no chain named '${chain}'`);
    const index = c.status.functions.findIndex((f) => f.name === fn);
    if (index < 0) throw new NotFoundError(`chain '${chain}' has no function '${fn}'`);
    const f = c.status.functions[index];
    if (replicas < f.min || replicas > f.max) {
      throw new FailedPreconditionError(`replicas ${replicas} outside ${f.min}..${f.max} for ${chain}/${fn}`);
    }
    const scaled: FunctionStatus = { ...f, desiredReplicas: replicas };
    const functions = c.status.functions.slice();
    functions[index] = scaled;
    c.status = { ...c.status, functions };
    this.emit({ type: 'scaled', chain, function: fn, reason: 'manual override', details: { from: String(f.desiredReplicas), to: String(replicas) } });
    return scaled;
  }

  subscribe(listener: (event: ControllerEvent) => void, afterSeq: number): Unsubscribe {
    for (const e of this.events) if (e.seq > afterSeq) listener(e);
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Backends `listBackends` and `setBackendState` serve (tests fill it). */
  readonly backendRows: BackendStatus[] = [];

  listBackends(chain: string, fn?: string): BackendStatus[] {
    if (!this.chains.has(chain)) throw new NotFoundError(`no chain named "${chain}"`);
    const rows = this.backendRows.filter((b) => b.chain === chain && (fn === undefined || fn === '' || b.function === fn));
    if (rows.length === 0) throw new FailedPreconditionError(`chain "${chain}" has no function with backends`);
    return rows;
  }

  async setBackendState(chain: string, fn: string | undefined, service: string, backend: string, state: BackendStateName): Promise<BackendStatus> {
    const rows = this.listBackends(chain, fn);
    const k = rows.findIndex((b) => b.service === service && b.backend === backend);
    if (k < 0) throw new NotFoundError(`service "${service}" has no backend ${backend}`);
    const row = { ...rows[k], state, effective: state };
    this.backendRows[this.backendRows.indexOf(rows[k])] = row;
    this.emit({ type: 'backend-state', chain, function: row.function, reason: `backend ${backend} of service ${service} ${state}` });
    return row;
  }

  stats(chain?: string): InstanceRates[] {
    this.statsCalls++;
    if (this.failStats) throw new Error(SECRET_DETAIL);
    return this.instances
      .filter((i) => chain === undefined || i.chain === chain)
      .map((i, n) => ({
        instance: i.id,
        chain: i.chain,
        function: i.function,
        rxPps: 1000 * (n + 1),
        txPps: 990 * (n + 1),
        dropPps: 10 * (n + 1),
        rxBps: 64_000 * (n + 1),
        queueOccupancy: 0.25,
        busyRatio: 0.5,
      }));
  }

  chainTraffic(chain: string): ChainTraffic {
    if (!this.chains.has(chain)) throw new NotFoundError(`no chain named "${chain}"`);
    return { chain, enteredInside: 0, enteredOutside: 0, leftInside: 0, leftOutside: 0, dropped: 0, drops: {} };
  }

  openCapture(chain: string): CaptureSession {
    if (!this.chains.has(chain)) throw new NotFoundError(`no chain named "${chain}"`);
    throw new FailedPreconditionError('the fake controller has no data plane to capture');
  }

  openTrace(chain: string): TraceSession {
    if (!this.chains.has(chain)) throw new NotFoundError(`no chain named "${chain}"`);
    throw new FailedPreconditionError('the fake controller has no data plane to trace');
  }

  /** Records an event and hands it to live subscribers. */
  emit(partial: Partial<ControllerEvent> & Pick<ControllerEvent, 'type' | 'chain'>): ControllerEvent {
    const event: ControllerEvent = {
      seq: this.events.length + 1,
      time: this.now + this.events.length,
      function: '',
      instance: '',
      reason: '',
      details: {},
      ...partial,
    };
    this.events.push(event);
    for (const l of [...this.listeners]) l(event);
    return event;
  }

  private instance(chain: string, f: FunctionStatus, n: number): InstanceStatus {
    return {
      id: `${chain}/${f.name}-${n}`,
      chain,
      function: f.name,
      imageId: f.imageId,
      state: 'ready',
      reason: 'booted',
      startedAt: this.now,
      bootMs: 12.5,
      flows: 3,
    };
  }

  private parse(text: string, source: string): { name: string; functions: FakeFunction[] } {
    const lineCounter = new LineCounter();
    const doc = parseDocument(text, { lineCounter, uniqueKeys: false }); // no quadratic duplicate-key scan over big test specs
    if (!isMap(doc.contents)) throw new InvalidArgumentError('a chain spec must be a YAML mapping');
    const issues: ConfigIssue[] = [];
    const at = (path: (string | number)[], message: string, label: string): void => {
      const node = doc.getIn(path, true) as Node | undefined;
      const pos = node?.range ? lineCounter.linePos(node.range[0]) : undefined;
      issues.push({ path: label, message, file: source, line: pos?.line, column: pos?.col });
    };
    const spec = doc.toJS() as { name?: unknown; functions?: unknown };
    if (typeof spec.name !== 'string' || spec.name === '') at(['name'], 'must be a non-empty string', 'name');
    const functions: FakeFunction[] = [];
    if (!Array.isArray(spec.functions)) {
      at(['functions'], 'must be a list', 'functions');
    } else {
      spec.functions.forEach((raw: Record<string, unknown>, i: number) => {
        const f: FakeFunction = {
          name: String(raw.name ?? ''),
          function: String(raw.function ?? ''),
          min: Number(raw.min ?? 1),
          max: Number(raw.max ?? 1),
          target: Number(raw.target ?? 1_000_000),
        };
        if (f.min > f.max) at(['functions', i, 'max'], `must be >= min (${f.min})`, `functions[${i}].max`);
        if (f.function === '') at(['functions', i], 'needs a function', `functions[${i}].function`);
        functions.push(f);
      });
    }
    if (issues.length > 0) throw new ConfigValidationError(`chain spec ${source}`, issues);
    return { name: spec.name as string, functions };
  }
}

/** A valid two-function spec. */
export function specYaml(name: string, lbMax = 4): string {
  return [
    `name: ${name}`,
    'functions:',
    '  - name: fw',
    '    function: firewall',
    '    min: 1',
    '    max: 2',
    '  - name: lb',
    '    function: load-balancer',
    '    min: 2',
    `    max: ${lbMax}`,
    '    target: 1000000',
    '',
  ].join('\n');
}
