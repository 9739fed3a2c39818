import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { InstanceRates } from '../../../src/controller/controller-api.ts';
import { ratesByFunction } from '../../../src/cli/function-rates.ts';
import { LiveDisplay } from '../../../src/cli/live-display.ts';
import { renderData, renderTable } from '../../../src/cli/output.ts';
import { formatAge, formatPercent, formatRate } from '../../../src/cli/units.ts';
import { EVENT_HEADER, eventLine } from '../../../src/cli/views/event-line.ts';
import { chainTable } from '../../../src/cli/views/chain-table.ts';
import { describeChainText } from '../../../src/cli/commands/describe.ts';

function writer(isTTY: boolean, columns?: number): { text: () => string; write: (s: string) => void; isTTY: boolean; columns?: number } {
  const parts: string[] = [];
  return { isTTY, ...(columns === undefined ? {} : { columns }), write: (s) => void parts.push(s), text: () => parts.join('') };
}

const rate = (instance: string, fn: string, rx: number, q: number): InstanceRates => ({
  instance,
  chain: 'c',
  function: fn,
  rxPps: rx,
  txPps: rx - 1,
  dropPps: 1,
  rxBps: rx * 64,
  queueOccupancy: q,
  busyRatio: q / 2,
});

describe('renderTable', () => {
  it('pads columns to the widest cell, right-aligns numbers and trims line ends', () => {
    const rows = [
      { name: 'web-edge', n: 3, note: '' },
      { name: 'a', n: 12345, note: 'x' },
    ];
    const text = renderTable(
      [
        { header: 'NAME', value: (r: (typeof rows)[number]) => r.name },
        { header: 'N', value: (r) => String(r.n), right: true },
        { header: 'NOTE', value: (r) => r.note },
      ],
      rows,
    );
    expect(text).toBe(['NAME          N  NOTE', 'web-edge      3', 'a         12345  x'].join('\n'));
  });

  it('prints only the header for no rows', () => {
    expect(renderTable([{ header: 'A', value: (r: string) => r }], [])).toBe('A');
  });
});

describe('renderData', () => {
  const data = [{ name: 'web-edge', functions: [{ name: 'fw', min: 1 }], ready: true }];

  it('round-trips through JSON and YAML', () => {
    expect(JSON.parse(renderData('json', data))).toEqual(data);
    expect(parseYaml(renderData('yaml', data))).toEqual(data);
    expect(renderData('yaml', data).startsWith('- name: web-edge\n')).toBe(true);
  });
});

describe('units', () => {
  it('formats rates with SI suffixes', () => {
    expect([0, 12.4, 999, 999.6, 1000, 398123.7, 2_500_000, 3.2e9].map(formatRate)).toEqual(['0', '12', '999', '1.0k', '1.0k', '398.1k', '2.5M', '3.2G']);
  });

  it('formats percentages and ages', () => {
    expect([0, 0.423, 1].map(formatPercent)).toEqual(['0%', '42%', '100%']);
    expect([0, 59_999, 60_000, 185_000, 7_200_000, 7_260_000, 90_000_000, 86_400_000].map(formatAge)).toEqual(['0s', '59s', '1m', '3m5s', '2h', '2h1m', '1d1h', '1d']);
  });
});

describe('ratesByFunction', () => {
  it('sums packet rates and averages queue and busy per chain function, in first-seen order', () => {
    const out = ratesByFunction([rate('c/lb-0', 'lb', 100, 0.5), rate('c/fw-0', 'fw', 10, 0), rate('c/lb-1', 'lb', 300, 1)]);
    expect(out.map((r) => r.function)).toEqual(['lb', 'fw']);
    expect(out[0]).toEqual({ chain: 'c', function: 'lb', instances: 2, rxPps: 400, txPps: 398, dropPps: 2, rxBps: 400 * 64, queueOccupancy: 0.75, busyRatio: 0.375 });
    expect(out[1].instances).toBe(1);
  });

  it('keeps functions of the same name in different chains apart', () => {
    const other = { ...rate('d/lb-0', 'lb', 5, 0), chain: 'd' };
    expect(ratesByFunction([rate('c/lb-0', 'lb', 1, 0), other]).map((r) => `${r.chain}/${r.function}`)).toEqual(['c/lb', 'd/lb']);
  });
});

describe('LiveDisplay', () => {
  it('redraws in place on a terminal, cutting lines to its width', () => {
    const out = writer(true, 5);
    const display = new LiveDisplay(out);
    display.show('abcdefgh\nxy');
    display.show('one\ntwo\nthree\n');
    expect(out.text()).toBe('abcde\nxy\n\x1b[2F\x1b[Jone\ntwo\nthree\n');
  });

  it('appends frames separated by a blank line elsewhere', () => {
    const out = writer(false);
    const display = new LiveDisplay(out);
    display.show('a\nb');
    display.show('c');
    expect(out.text()).toBe('a\nb\n\nc\n');
  });
});

describe('views', () => {
  it('lines events up in fixed columns', () => {
    const e = { seq: 42, time: Date.UTC(2025, 0, 2, 3, 4, 5, 678), type: 'instance-ready' as const, chain: 'web-edge', function: 'fw', instance: 'web-edge/fw-0', reason: 'taking new flows', details: {} };
    expect(EVENT_HEADER).toBe('   SEQ TIME (UTC)    TYPE               OBJECT                    REASON');
    expect(eventLine(e)).toBe('    42 03:04:05.678  instance-ready     web-edge/fw-0             taking new flows');
    expect(eventLine({ ...e, instance: '', type: 'scaled', reason: 'manual: 1 → 2 replicas' })).toBe(
      '    42 03:04:05.678  scaled             web-edge/fw               manual: 1 → 2 replicas',
    );
  });

  it('sums ready and desired replicas of a chain', () => {
    const fn = { name: 'fw', function: 'firewall', imageId: 'ab'.repeat(32), desiredReplicas: 2, readyReplicas: 1, min: 1, max: 4, target: 1000, failures: 0, restartDelayMs: 0, nextRestartAt: 0 };
    const chain = { name: 'web-edge', generation: 3, phase: 'Degraded' as const, phaseReason: 'fw: 1/2 ready', functions: [fn, { ...fn, name: 'lb', readyReplicas: 2 }], specYaml: '', appliedAt: 1_000 , placement: 'isolated', placementReason: 'spec.placement: isolated'};
    expect(chainTable([chain], 1_000 + 65_000)).toBe(['NAME      PHASE     GEN  FUNCTIONS  READY   AGE', 'web-edge  Degraded    3  fw,lb        3/4  1m5s'].join('\n'));
  });

  it('describes a crash-looping function: why the phase, its failures and back-off', () => {
    const now = Date.UTC(2025, 0, 2, 3, 4, 5);
    const fn = { name: 'fw', function: 'firewall', imageId: 'ab'.repeat(32), desiredReplicas: 1, readyReplicas: 0, min: 1, max: 4, target: 1000, failures: 5, restartDelayMs: 1600, nextRestartAt: now + 1100 };
    const lb = { ...fn, name: 'lb', function: 'load-balancer', readyReplicas: 1, failures: 2, restartDelayMs: 200, nextRestartAt: 0 };
    const chain = { name: 'web-edge', generation: 1, phase: 'Degraded' as const, phaseReason: 'fw: 0/1 ready; fw: 5 failures, restarts back off 1.6 s (next in 1.1 s)', functions: [fn, lb, { ...lb, name: 'nat', function: 'nat', failures: 0, restartDelayMs: 0 }], specYaml: '', appliedAt: now - 60_000, placement: 'isolated', placementReason: 'spec.placement: isolated' };
    const event = { seq: 9, time: now - 500, type: 'restart-delayed' as const, chain: 'web-edge', function: 'fw', instance: '', reason: '5 failures in a row: replacement in 1.6 s (back-off 1.6 s)', details: {} };
    const text = describeChainText({ chain, instances: [], events: [event] }, 1, now);
    expect(text).toContain('\nPhase:       Degraded (fw: 0/1 ready; fw: 5 failures, restarts back off 1.6 s (next in 1.1 s))\n');
    expect(text).toContain(
      [
        '  NAME  FUNCTION       IMAGE         READY  MIN  MAX  TARGET PPS  FAILURES  BACK-OFF',
        '  fw    firewall       abababababab    0/1    1    4        1.0k         5  1.6s, next in 1.1s',
        '  lb    load-balancer  abababababab    1/1    1    4        1.0k         2  0.2s',
        '  nat   nat            abababababab    1/1    1    4        1.0k         0  -',
      ].join('\n'),
    );
    expect(text).toContain('\n       9 03:04:04.500  restart-delayed    web-edge/fw               5 failures in a row: replacement in 1.6 s (back-off 1.6 s)');
    expect(describeChainText({ chain: { ...chain, phase: 'Ready', phaseReason: '' }, instances: [], events: [] }, 0, now)).toMatch(/\nPhase: {7}Ready\n/);
  });
});
