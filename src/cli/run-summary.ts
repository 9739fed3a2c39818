/**
 * What `nfvkit up` prints when it stops: per chain, the frames that entered and left each
 * side, the drops by reason, and what the shutdown reported (buffers leaked, flows still
 * open). Pipeline and ring drops by reason are read just before shutdown (the instances'
 * counters go with them); host drops, the drop total and traffic after it; leaks and flows
 * left from the chain's `deleted` event. Reasons are named as in `/metrics`:
 * `<instance>:<counter>` (`nfvkit_function_drops_total`), `<instance>:<side>:<reason>`
 * (`nfvkit_ring_drops_total`), `host:<reason>` (`nfvkit_host_drops_total`).
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
import { chainLayerDrops } from '../controller/controller-metrics.ts';
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
    this.chains = controller.runtimes().map((runtime) => ({ runtime, drops: dropsNow(runtime) }));
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
      const merged: Record<string, number> = { ...drops, ...dropsNow(runtime) };
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

/** The chain's non-zero pipeline, ring and host drops by reason, named as in `/metrics` (see the module documentation). */
function dropsNow(runtime: ChainRuntime): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, n] of Object.entries(runtime.dataPlane.dropsByReason())) if (!key.startsWith('host:')) out[key] = n;
  let layers: ReturnType<typeof chainLayerDrops>;
  try {
    layers = chainLayerDrops([runtime]);
  } catch {
    return out; // ends already closed: the summary keeps what it read before
  }
  const prefix = `${runtime.name}/`;
  for (const d of layers) {
    if (!(d.value > 0)) continue;
    if (d.layer === 'host') out[`host:${d.reason}`] = (out[`host:${d.reason}`] ?? 0) + d.value;
    else if (d.layer === 'ring') {
      const id = d.instance === undefined ? '?' : d.instance.startsWith(prefix) ? d.instance.slice(prefix.length) : d.instance;
      out[`${id}:${d.side}:${d.reason}`] = d.value;
    }
  }
  return out;
}
