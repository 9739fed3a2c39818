export interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  help?: string;
  type?: string;
  readonly samples: Sample[];
}

export interface Exposition {
  readonly families: Map<string, Family>;
  readonly problems: string[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const SUFFIXES: Record<string, readonly string[]> = { histogram: ['_bucket', '_sum', '_count'], summary: ['_sum', '_count', ''] };

function parseValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad value ${JSON.stringify(text)}`);
  return Number(text);
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq < 0 || text[eq + 1] !== '"') throw new Error(`bad label set {${text}}`);
    const name = text.slice(i, eq);
    if (!LABEL_NAME.test(name)) throw new Error(`bad label name ${name}`);
    let value = '';
    let j = eq + 2;
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === '\\') {
        const next = text[++j];
        value += next === 'n' ? '\n' : next;
      } else value += text[j];
    }
    if (j >= text.length) throw new Error(`unterminated label value in {${text}}`);
    if (name in labels) throw new Error(`duplicate label ${name}`);
    labels[name] = value;
    i = j + 1;
    if (text[i] === ',') i++;
    else if (i < text.length) throw new Error(`bad label separator in {${text}}`);
  }
  return labels;
}

function familyOf(families: Map<string, Family>, sampleName: string): Family | undefined {
  const exact = families.get(sampleName);
  if (exact !== undefined && exact.type !== 'histogram') return exact;
  for (const [name, f] of families) {
    for (const suffix of SUFFIXES[f.type ?? ''] ?? []) if (sampleName === name + suffix) return f;
  }
  return undefined;
}

function seriesKey(s: Sample): string {
  return `${s.name}{${Object.keys(s.labels).sort().map((k) => `${k}=${s.labels[k]}`).join(',')}}`;
}

/** Parses the Prometheus text format 0.0.4 and lists every rule it breaks. */
export function parseExposition(text: string): Exposition {
  const families = new Map<string, Family>();
  const problems: string[] = [];
  const seen = new Set<string>();
  if (!text.endsWith('\n')) problems.push('exposition does not end with a newline');
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta !== null) {
      const [, kind, name, rest] = meta;
      if (!NAME.test(name)) problems.push(`bad metric name ${name}`);
      const f = families.get(name) ?? { name, samples: [] };
      families.set(name, f);
      if (f.samples.length > 0) problems.push(`${kind} of ${name} after its samples`);
      if (kind === 'HELP') {
        if (f.help !== undefined) problems.push(`second HELP for ${name}`);
        f.help = rest;
      } else {
        if (f.type !== undefined) problems.push(`second TYPE for ${name}`);
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) problems.push(`unknown type ${rest} for ${name}`);
        f.type = rest;
      }
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line);
    if (m === null) {
      problems.push(`unparsable line ${JSON.stringify(line)}`);
      continue;
    }
    try {
      const sample: Sample = { name: m[1], labels: m[3] === undefined ? {} : parseLabels(m[3]), value: parseValue(m[4]) };
      const f = familyOf(families, sample.name);
      if (f === undefined) {
        problems.push(`sample ${sample.name} has no HELP/TYPE`);
        continue;
      }
      const key = seriesKey(sample);
      if (seen.has(key)) problems.push(`duplicate series ${key}`);
      seen.add(key);
      f.samples.push(sample);
    } catch (err) {
      problems.push(`${(err as Error).message} in ${JSON.stringify(line)}`);
    }
  }
  for (const f of families.values()) {
    if (f.help === undefined) problems.push(`${f.name} has no HELP`);
    if (f.type === undefined) problems.push(`${f.name} has no TYPE`);
    if (f.name.endsWith('_total') !== (f.type === 'counter')) problems.push(`${f.name} is a ${f.type}: _total is for counters and counters end in _total`);
    if (f.type === 'counter') for (const s of f.samples) if (!(s.value >= 0)) problems.push(`counter ${seriesKey(s)} = ${s.value}`);
    if (f.type === 'histogram') problems.push(...histogramProblems(f));
  }
  return { families, problems };
}

function histogramProblems(f: Family): string[] {
  const problems: string[] = [];
  const groups = new Map<string, { buckets: Array<[number, number]>; count?: number; sum?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = seriesKey({ name: '', labels: rest, value: 0 });
    const g = groups.get(key) ?? { buckets: [] };
    groups.set(key, g);
    if (s.name.endsWith('_bucket')) {
      if (le === undefined) problems.push(`${f.name} bucket without le`);
      else g.buckets.push([parseValue(le), s.value]);
    } else if (s.name.endsWith('_count')) g.count = s.value;
    else g.sum = s.value;
  }
  for (const [key, g] of groups) {
    for (let i = 1; i < g.buckets.length; i++) {
      if (!(g.buckets[i][0] > g.buckets[i - 1][0])) problems.push(`${f.name}${key}: le not ascending`);
      if (g.buckets[i][1] < g.buckets[i - 1][1]) problems.push(`${f.name}${key}: buckets not cumulative`);
    }
    const last = g.buckets.at(-1);
    if (last === undefined || last[0] !== Infinity) problems.push(`${f.name}${key}: no +Inf bucket`);
    else if (last[1] !== g.count) problems.push(`${f.name}${key}: +Inf bucket ${last[1]} != _count ${g.count}`);
    if (g.sum === undefined) problems.push(`${f.name}${key}: no _sum`);
  }
  return problems;
}

/** The value of the one sample of `name` whose labels include `labels`; throws unless exactly one matches. */
export function valueOf(exp: Exposition, name: string, labels: Record<string, string>): number {
  const matches: Sample[] = [];
  for (const f of exp.families.values()) {
    for (const s of f.samples) if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) matches.push(s);
  }
  if (matches.length !== 1) throw new Error(`${matches.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return matches[0].value;
}
