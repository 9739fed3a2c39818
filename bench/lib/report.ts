import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { describePacketIo } from '../../src/native/native-addon.ts';

/** One table of results a suite produced: column names and rows of cells. */
export interface ResultTable {
  /** Heading shown above the table. */
  title: string;
  columns: string[];
  rows: Array<Array<string | number>>;
}

/** Everything a suite reports: tables, target checks and free-form notes. */
export interface SuiteReport {
  suite: string;
  tables: ResultTable[];
  /** Targets from the issues, each with the measured figure and whether it was met. */
  targets: Array<{ name: string; target: string; measured: string; met: boolean }>;
  notes: string[];
}

/** A benchmark suite: `npm run bench -- <name>` runs it. */
export interface BenchSuite {
  name: string;
  description: string;
  run(progress: (line: string) => void): Promise<SuiteReport>;
}

/** Where results are written. */
export const RESULTS_DIR = new URL('../results/', import.meta.url).pathname;

function machineLine(): string {
  const cpu = cpus();
  return `${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, packet I/O: ${describePacketIo()}`;
}

/** Renders a report as Markdown. */
export function toMarkdown(report: SuiteReport, when: string): string {
  const out: string[] = [`# bench: ${report.suite}`, '', `${when} — ${machineLine()}`, ''];
  for (const t of report.tables) {
    out.push(`## ${t.title}`, '', `| ${t.columns.join(' | ')} |`, `|${t.columns.map(() => '---').join('|')}|`);
    for (const r of t.rows) out.push(`| ${r.join(' | ')} |`);
    out.push('');
  }
  if (report.targets.length > 0) {
    out.push('## Targets', '', '| target | wanted | measured | met |', '|---|---|---|---|');
    for (const t of report.targets) out.push(`| ${t.name} | ${t.target} | ${t.measured} | ${t.met ? 'yes' : '**no**'} |`);
    out.push('');
  }
  for (const n of report.notes) out.push(`- ${n}`);
  return out.join('\n') + '\n';
}

/** Writes `<suite>.json` and `<suite>.md`, then regenerates `SUMMARY.md` from every suite's latest JSON. */
export function writeReport(report: SuiteReport): string[] {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const when = new Date().toISOString();
  const json = join(RESULTS_DIR, `${report.suite}.json`);
  const md = join(RESULTS_DIR, `${report.suite}.md`);
  writeFileSync(json, JSON.stringify({ when, machine: machineLine(), ...report }, null, 2) + '\n');
  writeFileSync(md, toMarkdown(report, when));
  writeSummary();
  return [json, md];
}

function writeSummary(): void {
  const parts = ['# nfvkit benchmark summary', '', 'Latest result of each suite (`npm run bench -- <suite>`).', ''];
  for (const f of readdirSync(RESULTS_DIR).filter((n) => n.endsWith('.json')).sort()) {
    const r = JSON.parse(readFileSync(join(RESULTS_DIR, f), 'utf8')) as SuiteReport & { when: string; machine: string };
    parts.push(`## ${r.suite} (${r.when}, ${r.machine})`, '');
    for (const t of r.targets) parts.push(`- ${t.met ? '✅' : '❌'} ${t.name}: wanted ${t.target}, measured ${t.measured}`);
    parts.push(`- details: [${r.suite}.md](${r.suite}.md)`, '');
  }
  writeFileSync(join(RESULTS_DIR, 'SUMMARY.md'), parts.join('\n'));
}
