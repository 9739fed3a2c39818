/**
 * Writes the counter-constant modules under src/generated/ (see `renderCounterConstants`):
 * today the parser's drop reasons, src/generated/drop-reason-codes.ts, which `parseFrame`
 * and the IPv6 extension-header walk import so that images inline the codes, and the
 * functions' own (NAT's counters). `--check`
 * only compares and exits 1 when a committed module is stale.
 *
 *   npx tsx scripts/generate-counter-constants.ts [--check]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { COUNTER_CONSTANT_MODULES } from '../src/counters/counter-constant-modules.ts';
import { NAT_COUNTER_CONSTANT_MODULE, NAT_DROP_RESULT_MODULE } from '../functions/nat/nat-counter-constants.ts';

let stale = 0;
for (const m of [...COUNTER_CONSTANT_MODULES, NAT_COUNTER_CONSTANT_MODULE, NAT_DROP_RESULT_MODULE]) {
  const target = fileURLToPath(new URL(`../${m.path}`, import.meta.url));
  const text = m.render();
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(target, 'utf8');
    } catch {
      current = '';
    }
    if (current !== text) {
      console.error(`${m.path} is out of date: run npm run gen:counters`);
      stale++;
    } else console.log(`${m.path} is up to date`);
  } else {
    writeFileSync(target, text);
    console.log(`wrote ${m.path} (${text.length} bytes)`);
  }
}
if (stale > 0) process.exit(1);
