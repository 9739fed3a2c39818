/**
 * `takeover` suite (issue 16 item 5): kills the instance of each of fw, lb and nat while
 * web-edge carries 1024 generated TCP flows (`KillDrill`), with instance processes, in
 * isolated and fused placement, and reports per kill how many established flows kept their
 * backend and NAT port and how long each was interrupted (the longest gap between two of
 * its frames): the time to notice the death, the restart back-off (default 100 ms), the
 * successor's boot and its takeover of the connections.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerBuiltinFunctions } from '../../functions/index.ts';
import { KillDrill, type KillResult } from '../../src/controller/kill-drill.ts';
import { ImageStore } from '../../src/image/image-store.ts';
import { MemfdMemory } from '../../src/memory/shared-memory.ts';
import { FunctionRegistry } from '../../src/pipeline/function-registry.ts';
import type { BenchSuite, SuiteReport } from '../lib/report.ts';

const ROUNDS = Number(process.env.TAKEOVER_BENCH_ROUNDS ?? 3);

export const takeoverSuite: BenchSuite = {
  name: 'takeover',
  description: 'instance of fw, lb, nat SIGKILLed under web-edge traffic: flows kept, outage per flow',
  async run(progress): Promise<SuiteReport> {
    if (!MemfdMemory.available()) throw new Error('the takeover bench kills instance processes: build the native addon (npm run build:native)');
    const rows: Array<Array<string | number>> = [];
    const all: KillResult[] = [];
    for (const placement of ['isolated', 'fused'] as const) {
      const dir = mkdtempSync(join(tmpdir(), 'nfvkit-bench-takeover-'));
      // Each kill is a first failure: the crash-loop back-off (base 100 ms, the default) is
      // forgotten between kills (1 s healthy), which come 2 s apart.
      const drill = await KillDrill.start({ registry: registerBuiltinFunctions(new FunctionRegistry()), store: ImageStore.open(dir), restartBackoff: { baseMs: 100, resetAfterMs: 1000 } }, placement);
      try {
        for (let round = 0; round < ROUNDS; round++) {
          for (const fn of ['fw', 'lb', 'nat']) {
            await new Promise((r) => setTimeout(r, 2000));
            const r = await drill.kill(fn);
            all.push(r);
            progress(`${placement} ${fn}: kept ${r.kept}/${r.before}, outage p50 ${r.outageP50.toFixed(0)} ms p99 ${r.outageP99.toFixed(0)} ms; ${r.timeline}`);
            rows.push([placement, fn, r.instance, `${r.kept}/${r.before}`, r.adopted ?? '-', r.outageP50.toFixed(0), r.outageP99.toFixed(0), r.timeline]);
          }
        }
      } finally {
        await drill.close();
        rmSync(dir, { recursive: true, force: true });
      }
    }
    const keptWorst = Math.min(...all.map((r) => r.kept / r.before));
    const p99Worst = Math.max(...all.map((r) => r.outageP99));
    const p99s = all.map((r) => r.outageP99).sort((a, b) => a - b);
    return {
      suite: 'takeover',
      tables: [{ title: 'Kills under web-edge traffic (process instances; each kill a first failure: restart back-off 100 ms)', columns: ['placement', 'function', 'killed', 'kept', 'taken over', 'outage p50 ms', 'outage p99 ms', 'after the kill'], rows }],
      targets: [
        { name: 'established flows kept per kill (worst)', target: '≥ 99 %', measured: `${(keptWorst * 100).toFixed(1)} %`, met: keptWorst >= 0.99 },
        { name: 'successor serving: outage p99 per kill (median over kills, worst)', target: '≤ 500 ms', measured: `${p99s[p99s.length >> 1].toFixed(0)} ms, ${p99Worst.toFixed(0)} ms`, met: p99Worst <= 500 },
      ],
      notes: [
        `${ROUNDS} rounds of fw, lb, nat kills per placement (TAKEOVER_BENCH_ROUNDS). A flow is kept when the servers see it again with the same backend and NAT port.`,
        'The outage of a flow is the longest gap between two of its frames at the servers, the generator sending each flow a frame every ~17 ms.',
      ],
    };
  },
};
