import { describe, expect, it } from 'vitest';
import { parseExposition, valueOf } from './exposition.ts';

const good = `# HELP a_total A.
# TYPE a_total counter
a_total{x="1",y="q\\"uote"} 3
# HELP h H.
# TYPE h histogram
h_bucket{le="0.1"} 1
h_bucket{le="+Inf"} 2
h_sum 0.3
h_count 2
`;

describe('exposition parser used by the metrics tests', () => {
  it('parses a valid exposition without problems', () => {
    const exp = parseExposition(good);
    expect(exp.problems).toEqual([]);
    expect(valueOf(exp, 'a_total', { y: 'q"uote' })).toBe(3);
    expect(valueOf(exp, 'h_count', {})).toBe(2);
  });

  it.each([
    ['a gauge named _total', good.replace('a_total counter', 'a_total gauge'), /_total is for counters/],
    ['a counter without _total', '# HELP c C.\n# TYPE c counter\nc 1\n', /_total is for counters/],
    ['a sample without TYPE', '# HELP b B.\nb 1\n', /no TYPE/],
    ['a sample without HELP/TYPE', 'zz 1\n', /no HELP\/TYPE/],
    ['non-cumulative buckets', good.replace('h_bucket{le="+Inf"} 2', 'h_bucket{le="+Inf"} 0').replace('h_count 2', 'h_count 0'), /not cumulative/],
    ['+Inf bucket unlike _count', good.replace('h_count 2', 'h_count 5'), /!= _count/],
    ['prom-client style "Nan"', good.replace('} 3', '} Nan'), /bad value/],
    ['a duplicate series', good.replace('a_total{x="1",y="q\\"uote"} 3\n', 'a_total{x="1",y="q\\"uote"} 3\na_total{y="q\\"uote",x="1"} 4\n'), /duplicate series/],
    ['a negative counter', good.replace('} 3', '} -3'), /counter .* = -3/],
  ])('flags %s', (_, text, problem) => {
    expect(parseExposition(text).problems.join('\n')).toMatch(problem);
  });
});
