import { describe, expect, it } from 'vitest';
import { RunSummary } from '../../../src/cli/run-summary.ts';
import type { ChainSummary, ChainTraffic, ControllerApi, ControllerEvent } from '../../../src/controller/controller-api.ts';
import { NotFoundError } from '../../../src/errors/catalog.ts';

/** Just the part of `ControllerApi` the summary reads: chains (two per page), their traffic, events. */
class SummaryApi {
  readonly traffic = new Map<string, ChainTraffic>();
  readonly listeners: ((e: ControllerEvent) => void)[] = [];
  readonly history: ControllerEvent[] = [];

  listChainSummaries({ pageToken = '' }: { pageToken?: string } = {}): { chains: ChainSummary[]; nextPageToken: string } {
    const names = [...this.traffic.keys()].sort();
    const start = pageToken === '' ? 0 : Number(pageToken);
    const chains = names.slice(start, start + 2).map((name) => ({ name, generation: 1, phase: 'Ready' as const, placement: 'isolated', functions: [], appliedAt: 0 }));
    return { chains, nextPageToken: start + 2 < names.length ? String(start + 2) : '' };
  }

  chainTraffic(name: string): ChainTraffic {
    const t = this.traffic.get(name);
    if (t === undefined) throw new NotFoundError(`no chain named "${name}"`);
    return t;
  }

  subscribe(listener: (e: ControllerEvent) => void, afterSeq: number): () => void {
    for (const e of this.history) if (e.seq > afterSeq) listener(e);
    this.listeners.push(listener);
    return () => this.listeners.splice(this.listeners.indexOf(listener), 1);
  }

  record(type: ControllerEvent['type'], chain: string, details: Record<string, string> = {}): void {
    const e: ControllerEvent = { seq: this.history.length + 1, time: 0, type, chain, function: '', instance: '', reason: '', details };
    this.history.push(e);
    for (const l of this.listeners) l(e);
  }
}

const traffic = (chain: string, n: number, drops: Record<string, number> = {}): ChainTraffic => ({ chain, enteredInside: n, enteredOutside: 0, leftInside: 0, leftOutside: n, dropped: 0, drops });

describe('RunSummary: what nfvkit up prints, read through ControllerApi', () => {
  it('lists every chain over the pages, with the latest figures while it runs', () => {
    const api = new SummaryApi();
    for (const name of ['a', 'b', 'c']) api.traffic.set(name, traffic(name, 10));
    const summary = RunSummary.capture(api as unknown as ControllerApi);
    api.traffic.set('c', traffic('c', 30, { 'hop-0:ttl_exceeded': 2 }));
    const text = summary.render(2000);
    expect(text.match(/^chain\/\w+:$/gm)).toEqual(['chain/a:', 'chain/b:', 'chain/c:']);
    expect(text).toContain('chain/c:\n  frames in   30 inside, 0 outside (15/s on average)\n  frames out  30 outside, 0 inside\n  drops       0 in all, by reason:\n    hop-0:ttl_exceeded               2');
  });

  it('after the chains are gone: the figures of their deleted events, pipeline drops as read at the stop', () => {
    const api = new SummaryApi();
    // An earlier chain of the same name, deleted before this one was applied, says nothing of it.
    api.record('deleted', 'a', { leakedBuffers: '9', flowsLeft: '9' });
    api.record('applied', 'a');
    api.traffic.set('a', traffic('a', 100, { 'hop-0:ipv4_bad_checksum': 1, 'host:no_instance': 1 }));
    const summary = RunSummary.capture(api as unknown as ControllerApi);
    api.traffic.delete('a');
    api.record('deleted', 'a', { leakedBuffers: '0', flowsLeft: '3', enteredInside: '120', enteredOutside: '4', leftInside: '4', leftOutside: '118', dropped: '2', 'host:no_instance': '1' });
    const text = summary.render(1000);
    expect(text).toContain('  frames in   120 inside, 4 outside');
    expect(text).toContain('  frames out  118 outside, 4 inside');
    expect(text).toContain('  drops       2 in all, by reason:\n    hop-0:ipv4_bad_checksum          1\n    host:no_instance                 1');
    expect(text).toMatch(/\n {2}shutdown {4}0 buffers leaked, 3 flows still open when stopped$/);
  });
});
