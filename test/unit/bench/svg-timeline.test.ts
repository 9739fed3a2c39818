import { describe, expect, it } from 'vitest';
import { timelineSvg } from '../../../bench/lib/svg-timeline.ts';

const paths = (svg: string) => [...svg.matchAll(/<path d="([^"]*)" fill="none" stroke="([^"]+)"[^>]*><title>([^<]*)<\/title>/g)];

describe('svg-timeline', () => {
  it('draws one path per series on a shared time axis, steps as H/V segments, NaN as a gap', () => {
    const svg = timelineSvg(
      [
        { title: 'Instances', unit: 'n', series: [{ name: 'nat ready', points: [[0, 1], [5, 3], [10, 1]], step: true }] },
        { title: 'Rate', unit: 'req/s', series: [{ name: 'served', points: [[0, 100], [1, 200], [2, Number.NaN], [3, 150], [4, 160]] }, { name: 'a < b', points: [[0, 5]], color: '#123456', dashed: true }] },
      ],
      { title: 'T & U', markers: [{ x: 5, label: 'out nat 1→3' }], bands: [{ from: 0, to: 4, label: 'low' }, { from: 4, to: 10, label: 'high' }] },
    );
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    const p = paths(svg);
    expect(p.map((m) => m[3])).toEqual(['nat ready', 'served', 'a &lt; b']);
    expect(p[0][1]).toMatch(/^M[\d.]+,[\d.]+ H[\d.]+ V[\d.]+ H[\d.]+ V[\d.]+$/);
    expect(p[1][1].match(/M/g)).toHaveLength(2);
    expect(p[2][2]).toBe('#123456');
    expect(svg).toContain('T &amp; U');
    expect(svg).toContain('out nat 1→3');
    expect(svg).toContain('>high</text>');
    expect(svg.match(/stroke-dasharray="3,3"/g)).toHaveLength(1);
  });

  it('places x proportionally: a point at half the axis sits halfway across the plot', () => {
    const svg = timelineSvg([{ title: 'x', unit: 'u', series: [{ name: 's', points: [[0, 0], [5, 10], [10, 0]] }] }], { width: 1000 });
    const d = paths(svg)[0][1];
    const xs = [...d.matchAll(/[ML]([\d.]+),/g)].map((m) => Number(m[1]));
    expect(xs[1] - xs[0]).toBeCloseTo(xs[2] - xs[1], 1);
    expect(xs[2] - xs[0]).toBeCloseTo(1000, 0);
  });
});
