/**
 * What `nfvkit up` prints when it stops: per chain, the frames that entered and left each
 * side, the drops by reason, and what the shutdown reported (buffers leaked, flows still
 * open). Pipeline drops by reason are read just before shutdown (the instances' counters
 * go with them); host drops, the drop total and traffic after it; leaks and flows left
 * from the chain's `deleted` event.
 *
 * @example
 * ```ts
 * const summary = RunSummary.capture(controller);      // before controller.close()
 * await controller.close(1000);
 * println(ctx, summary.render(performance.now() - started));
 * ```
 */
import type { ChainRuntime } from '../controller/chain-runtime.ts';
import type { ControllerEvent } from '../controller/controller-api.ts';
import type { Controller } from '../controller/controller.ts';
import { formatRate } from './units.ts';

/** Most drop reasons listed per chain; the rest are summed up in one line. */
const MAX_DROP_REASONS = 8;

interface ChainRecord {
  readonly runtime: ChainRuntime;
  readonly drops: Record<string, number>;
  deleted?: ControllerEvent;
}

/** Totals of one `up` run, captured before the controller closes and completed by its events. */
export class RunSummary {
  private readonly chains: ChainRecord[];
  private readonly unsubscribe: () => void;

  private constructor(controller: Controller) {
    this.chains = controller.runtimes().map((runtime) => ({ runtime, drops: runtime.dataPlane.dropsByReason() }));
    this.unsubscribe = controller.subscribe((e) => {
      if (e.type !== 'deleted') return;
      const record = this.chains.find((c) => c.runtime.name === e.chain);
      if (record !== undefined) record.deleted = e;
    }, controller.events.lastSeq);
  }

  /** Reads the drops of every running chain now and starts listening for their `deleted` events. */
  static capture(controller: Controller): RunSummary {
    return new RunSummary(controller);
  }

  /** The summary text after the run (call once the controller has closed). */
  render(elapsedMs: number): string {
    this.unsubscribe();
    const seconds = elapsedMs / 1000;
    const lines = [`ran ${seconds.toFixed(1)} s`];
    if (this.chains.length === 0) lines.push('no chains were running');
    for (const { runtime, drops, deleted } of this.chains) {
      const t = runtime.dataPlane.traffic;
      const framesIn = t.enteredInside + t.enteredOutside;
      lines.push(`chain/${runtime.name}:`);
      lines.push(
        `  frames in   ${t.enteredInside} inside, ${t.enteredOutside} outside (${formatRate(seconds > 0 ? framesIn / seconds : 0)}/s on average)`,
        `  frames out  ${t.leftOutside} outside, ${t.leftInside} inside`,
      );
      // Pipeline drops as read at the stop; host drops (which grow while flows drain) now.
      const merged: Record<string, number> = { ...drops, ...runtime.dataPlane.dropsByReason() };
      const reasons = Object.entries(merged).sort((a, b) => b[1] - a[1]);
      if (reasons.length === 0) lines.push('  drops       none');
      else {
        lines.push(`  drops       ${runtime.dataPlane.dropped()} in all, by reason:`);
        for (const [reason, n] of reasons.slice(0, MAX_DROP_REASONS)) lines.push(`    ${reason.padEnd(32)} ${n}`);
        if (reasons.length > MAX_DROP_REASONS) lines.push(`    … ${reasons.length - MAX_DROP_REASONS} more reasons`);
      }
      if (deleted !== undefined) {
        lines.push(`  shutdown    ${deleted.details.leakedBuffers ?? '?'} buffers leaked, ${deleted.details.flowsLeft ?? '?'} flows still open when stopped`);
      }
    }
    return lines.join('\n');
  }
}
