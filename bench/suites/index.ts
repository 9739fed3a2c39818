import type { BenchSuite } from '../lib/report.ts';

/** Every benchmark suite, in the order `npm run bench` runs them. Register new suites here. */
export const SUITES: BenchSuite[] = [];
