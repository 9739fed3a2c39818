import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NfvkitMetrics } from '../../../src/metrics/nfvkit-metrics.ts';

interface Target {
  readonly expr: string;
  readonly refId: string;
}
interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly datasource?: { readonly uid: string };
  readonly gridPos: { readonly x: number; readonly y: number; readonly w: number; readonly h: number };
  readonly targets?: readonly Target[];
}
interface Dashboard {
  readonly uid: string;
  readonly panels: readonly Panel[];
  readonly templating: { readonly list: readonly { readonly name: string; readonly type: string; readonly query: string | { readonly query: string } }[] };
  readonly annotations: { readonly list: readonly { readonly expr?: string }[] };
}

const dashboard = JSON.parse(readFileSync(new URL('../../../dashboards/nfvkit.json', import.meta.url), 'utf8')) as Dashboard;

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/**
 * The metric names a PromQL query (or a Grafana `label_values(...)` variable query) reads:
 * what is left after string literals, label matchers, ranges, grouping clauses, function
 * names, keywords and numbers are taken out.
 */
function metricNames(query: string): string[] {
  const q = query
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)?[^,)]*,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)/g, ' $1 ');
  const names = new Set<string>();
  for (const m of q.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?/g)) {
    const word = m[0].replace(/\s*\($/, '');
    if (m[1] !== undefined || KEYWORDS.has(word.toLowerCase()) || /^\d/.test(word)) continue;
    names.add(word);
  }
  return [...names];
}

function queries(): { where: string; query: string }[] {
  const out: { where: string; query: string }[] = [];
  for (const p of dashboard.panels) for (const t of p.targets ?? []) out.push({ where: `panel "${p.title}" ${t.refId}`, query: t.expr });
  for (const v of dashboard.templating.list) {
    if (v.type !== 'query') continue;
    out.push({ where: `variable ${v.name}`, query: typeof v.query === 'string' ? v.query : v.query.query });
  }
  for (const a of dashboard.annotations.list) if (a.expr !== undefined) out.push({ where: 'annotation', query: a.expr });
  return out;
}

describe('dashboards/nfvkit.json', () => {
  it('finds the metric names in a query (the check below can fail)', () => {
    expect(metricNames('sum by (chain, le) (rate(nfvkit_nope_seconds_bucket{chain=~"$chain", x="a{b}"}[$__rate_interval])) > 0')).toEqual(['nfvkit_nope_seconds_bucket']);
    expect(metricNames('histogram_quantile(0.99, sum by (le) (rate(a_bucket[5m]))) / on (x) group_left b')).toEqual(['a_bucket', 'b']);
    expect(metricNames('label_values(nfvkit_instances{chain=~"$chain"}, function)')).toEqual(['nfvkit_instances']);
    expect(metricNames('8 * sum(rate(nfvkit_function_bytes_total[1m])) or vector(0)')).toEqual(['nfvkit_function_bytes_total']);
  });

  it('every query names only metrics nfvkit exports (nfvkit up adds the process metrics)', async () => {
    const registry = new NfvkitMetrics({ processMetrics: true }).registry;
    const types = new Map((await registry.getMetricsAsJSON()).map((m) => [m.name, String(m.type)]));
    const exists = (name: string): boolean => {
      if (types.has(name)) return true;
      const base = name.replace(/_(bucket|sum|count)$/, '');
      return base !== name && types.get(base) === 'histogram';
    };
    const all = queries();
    expect(all.length).toBeGreaterThan(20);
    for (const { where, query } of all) {
      const names = metricNames(query);
      expect(names.length, `${where}: ${query}`).toBeGreaterThan(0);
      for (const name of names) expect(exists(name), `${where} names ${name}, which no registry metric is`).toBe(true);
    }
  });

  it('shows per-function rates, drops by reason at every layer, queue occupancy, busy, instances, boot times and scaling events', () => {
    const used = new Set(queries().flatMap(({ query }) => metricNames(query).map((n) => n.replace(/_(bucket|sum|count)$/, ''))));
    for (const name of [
      'nfvkit_function_packets_total',
      'nfvkit_function_bytes_total',
      'nfvkit_function_drops_total',
      'nfvkit_host_drops_total',
      'nfvkit_ring_drops_total',
      'nfvkit_port_drops_total',
      'nfvkit_gateway_drops_total',
      'nfvkit_queue_occupancy_ratio',
      'nfvkit_batch_duration_seconds',
      'nfvkit_instances',
      'nfvkit_instance_boot_seconds',
      'nfvkit_scaling_events_total',
    ]) {
      expect(used.has(name), name).toBe(true);
    }
  });

  it('is a well-formed Grafana dashboard: unique ids, panels on the 24-column grid without overlap, one datasource variable', () => {
    expect(dashboard.uid).toBe('nfvkit');
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      const { x, y, w, h } = p.gridPos;
      expect(x >= 0 && w > 0 && x + w <= 24 && h > 0, p.title).toBe(true);
      for (let i = x; i < x + w; i++) {
        for (let j = y; j < y + h; j++) {
          expect(cells.has(`${i},${j}`), `${p.title} overlaps another panel`).toBe(false);
          cells.add(`${i},${j}`);
        }
      }
      if (p.type !== 'row') {
        expect(p.datasource?.uid, p.title).toBe('${datasource}');
        expect(p.targets?.length, p.title).toBeGreaterThan(0);
      }
    }
    const variables = dashboard.templating.list.map((v) => v.name);
    expect(variables).toEqual(['datasource', 'chain', 'function']);
    const text = JSON.stringify(dashboard);
    for (const ref of text.matchAll(/\$(?!__)([a-z_]+)/g)) expect(variables, `$${ref[1]}`).toContain(ref[1]);
  });
});
