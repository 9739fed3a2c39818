/**
 * Benchmark entry point: `npm run bench -- [suite …]` (no suite: all of them).
 * Each suite writes JSON and Markdown under bench/results/; SUMMARY.md gathers the latest.
 */
import { writeReport, type BenchSuite } from './lib/report.ts';
import { SUITES } from './suites/index.ts';

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => a !== '--');
  const unknown = wanted.filter((w) => !SUITES.some((s) => s.name === w));
  if (unknown.length > 0) {
    console.error(`unknown suite(s): ${unknown.join(', ')}; known: ${SUITES.map((s) => s.name).join(', ')}`);
    process.exit(2);
  }
  const chosen: BenchSuite[] = wanted.length === 0 ? SUITES : SUITES.filter((s) => wanted.includes(s.name));
  for (const [i, suite] of chosen.entries()) {
    console.log(`[${i + 1}/${chosen.length}] ${suite.name}: ${suite.description}`);
    const report = await suite.run((line) => console.log(`  ${suite.name}: ${line}`));
    for (const f of writeReport(report)) console.log(`  wrote ${f}`);
    for (const t of report.targets) console.log(`  ${t.met ? 'MET   ' : 'MISSED'} ${t.name}: ${t.measured} (target ${t.target})`);
  }
}

await main();
