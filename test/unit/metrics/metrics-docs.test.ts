import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HOST_DROP_LIST } from '../../../src/dataplane/host-drop-reason.ts';
import { VXLAN_DROP_LIST } from '../../../src/dataplane/ports/vxlan-drop-reason.ts';
import { GATEWAY_DROP_LIST } from '../../../src/gateway/gateway-drop-reason.ts';
import { NfvkitMetrics } from '../../../src/metrics/nfvkit-metrics.ts';
import { RING_DROP_LIST } from '../../../src/virtio/ring-drop-reason.ts';
import { DIRECT_LINK_COUNTER_LIST } from '../../../src/dataplane/links/direct-link-counters.ts';

const doc = readFileSync(new URL('../../../docs/metrics.md', import.meta.url), 'utf8');

/** Metric names in the first column of the docs' metric tables. */
function documentedMetrics(): string[] {
  return [...doc.matchAll(/^\| `([a-z_:]+)` \| (?:counter|gauge|histogram|summary) \|/gm)].map((m) => m[1]);
}

/** Reason names of the table that follows the line starting with `heading`. */
function documentedReasons(heading: string): string[] {
  const at = doc.indexOf(`\n${heading}`);
  if (at < 0) throw new Error(`docs/metrics.md has no "${heading}" table`);
  const rows: string[] = [];
  const lines = doc.slice(at + 1).split('\n').slice(1);
  let inTable = false;
  for (const line of lines) {
    if (line.startsWith('|')) inTable = true;
    else if (inTable) break;
    const m = /^\| `([a-z0-9_]+)` \|/.exec(line);
    if (m !== null) rows.push(m[1]);
  }
  return rows;
}

describe('docs/metrics.md and the metrics registry', () => {
  const exported = new NfvkitMetrics().registry.getMetricsAsArray().map((m) => m.name);

  it('documents every exported metric, and every documented metric is exported', () => {
    const documented = documentedMetrics();
    expect(documented.length).toBeGreaterThan(15);
    expect(new Set(documented).size).toBe(documented.length);
    expect([...documented].sort()).toEqual([...exported].sort());
  });

  it('adds only prom-client\'s process and Node.js metrics with processMetrics', () => {
    const more = new NfvkitMetrics({ processMetrics: true }).registry.getMetricsAsArray().map((m) => m.name).filter((n) => !exported.includes(n));
    expect(more.length).toBeGreaterThan(0);
    for (const name of more) expect(name).toMatch(/^(process|nodejs)_/);
  });

  it('lists every declared drop reason outside the pipelines, and nothing else', () => {
    expect(documentedReasons('Host:')).toEqual(HOST_DROP_LIST.names);
    expect(documentedReasons('Ring (')).toEqual(RING_DROP_LIST.names);
    expect(documentedReasons('Link (')).toEqual(DIRECT_LINK_COUNTER_LIST.dropNames);
    expect(documentedReasons('Port (')).toEqual(VXLAN_DROP_LIST.names);
    expect(documentedReasons('Gateway:')).toEqual(GATEWAY_DROP_LIST.names);
  });
});
