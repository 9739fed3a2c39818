import { describe, expect, it } from 'vitest';
import { openFlowsOf, scaleInVictims } from '../../../src/controller/scale-in-choice.ts';
import { LOCAL_PORT_COUNTERS, LocalPortCounter } from '../../../src/dataplane/ports/local-ports.ts';

function replica(id: string, open: number, closing = 0): { id: string; flows: number; portCounters: Float64Array } {
  const c = new Float64Array(LOCAL_PORT_COUNTERS);
  c[LocalPortCounter.FLOWS_OPEN] = open;
  c[LocalPortCounter.FLOWS_CLOSING] = closing;
  return { id, flows: 0, portCounters: c };
}

describe('scale-in choice', () => {
  it('drains the replicas with the fewest open flows when the ends run in them (host pins are all 0 there)', () => {
    const replicas = [replica('a', 30), replica('b', 12, 40), replica('c', 18)];
    expect(scaleInVictims(replicas, 1).map((r) => r.id)).toEqual(['b']);
    expect(scaleInVictims(replicas, 2).map((r) => r.id)).toEqual(['b', 'c']);
    expect(openFlowsOf(replicas[0])).toBe(30);
  });

  it('drains by host pins when the ends are on the host, keeps ties in order, and drains none for a count of 0', () => {
    const isolated = [
      { id: 'x', flows: 9, portCounters: undefined },
      { id: 'y', flows: 2, portCounters: undefined },
      { id: 'z', flows: 2, portCounters: undefined },
    ];
    expect(scaleInVictims(isolated, 2).map((r) => r.id)).toEqual(['y', 'z']);
    expect(scaleInVictims(isolated, 0)).toEqual([]);
  });
});
