import { describe, expect, it } from 'vitest';
import { barChartsSvg, escapeXml, niceStep, shortNumber } from '../../../bench/lib/svg-chart.ts';

const bars = (svg: string) => [...svg.matchAll(/<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)" fill="([^"]+)"><title>([^<]*)<\/title>/g)];

describe('svg-chart', () => {
  it('picks round tick steps', () => {
    expect(niceStep(100)).toBe(20);
    expect(niceStep(31_000)).toBe(10_000);
    expect(niceStep(7)).toBe(2);
    expect(niceStep(0)).toBe(1);
    expect(niceStep(0.9)).toBe(0.2);
  });

  it('writes short numbers', () => {
    expect(shortNumber(31_234)).toBe('31.2k');
    expect(shortNumber(2_500)).toBe('2.5k');
    expect(shortNumber(1_250_000)).toBe('1.3M');
    expect(shortNumber(512)).toBe('512');
    expect(shortNumber(0.694)).toBe('0.69');
    expect(shortNumber(Number.NaN)).toBe('');
  });

  it('draws one bar per finite value, heights proportional to the values, text escaped', () => {
    const svg = barChartsSvg(
      [
        { title: 'req/s <closed-loop>', unit: 'req/s', groups: ['1', '10'], series: [{ name: 'a & b', values: [1000, 4000] }, { name: 'k', values: [2000, Number.NaN] }] },
        { title: 'p99', unit: 'µs', groups: ['1', '10'], series: [{ name: 'a & b', values: [300, 600] }] },
      ],
      { title: 'HTTP', groupLabel: 'connections' },
    );
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('req/s &lt;closed-loop&gt;');
    expect(svg).not.toContain('a & b');
    const found = bars(svg);
    expect(found).toHaveLength(5);
    const height = (title: string) => Number(found.find((m) => m[6] === title)![4]);
    expect(height('a &amp; b, 10: 4000 req/s') / height('a &amp; b, 1: 1000 req/s')).toBeCloseTo(4, 1);
    expect(height('k, 1: 2000 req/s') / height('a &amp; b, 1: 1000 req/s')).toBeCloseTo(2, 1);
    expect(height('a &amp; b, 10: 600 µs') / height('a &amp; b, 1: 300 µs')).toBeCloseTo(2, 1);
    const colours = new Set(found.filter((m) => m[6].startsWith('a &amp; b')).map((m) => m[5]));
    expect(colours.size).toBe(1);
    expect(escapeXml('"<&>"')).toBe('&quot;&lt;&amp;&gt;&quot;');
  });
});
