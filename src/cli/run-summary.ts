/**
 * What `nfvkit up` prints when it stops: per chain, the frames that entered and left each
 * side, the drops by reason, and what the shutdown reported (buffers leaked, flows still
 * open). Everything is read through `ControllerApi`: `chainTraffic` just before shutdown
 * (pipeline and ring drops go with the instances), then again while the chain still runs,
 * and after it was deleted the figures its `deleted` event carries (frames, drop total,
 * host drops by reason, leaks and flows left). Reasons are named as in `/metrics`:
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
import type { ChainTraffic, ControllerApi, ControllerEvent } from '../controller/controller-api.ts';
import { NotFoundError } from '../errors/catalog.ts';
import { allChainSummaries } from './all-chain-summaries.ts';
import { formatRate } from './units.ts';

/** Most drop reasons listed per chain; the rest are summed up in one line. */
const MAX_DROP_REASONS = 8;

interface ChainRecord {
  readonly name: string;
  /** Its traffic and drops as read when the run stopped. */
  readonly atStop: ChainTraffic;
  /** Its `deleted` event, once the controller deleted it (after its last `applied`). */
  deleted?: ControllerEvent;
}

/** Totals of one `up` run, captured before the controller closes and completed by its events. */
export class RunSummary {
  private readonly chains: ChainRecord[];
  private readonly unsubscribe: () => void;

  private constructor(private readonly api: ControllerApi) {
    this.chains = allChainSummaries(api).flatMap(({ name }) => {
      const atStop = trafficOf(api, name);
      return atStop === undefined ? [] : [{ name, atStop }];
    });
    // Replayed history included: a chain's `applied` comes after any earlier `deleted` of its name.
    this.unsubscribe = api.subscribe((e) => {
      const record = this.chains.find((c) => c.name === e.chain);
      if (record === undefined) return;
      if (e.type === 'applied') record.deleted = undefined;
      else if (e.type === 'deleted') record.deleted = e;
    }, 0);
  }

  /** Reads the traffic and drops of every running chain now and starts listening for their `deleted` events. */
  static capture(api: ControllerApi): RunSummary {
    return new RunSummary(api);
  }

  /** The summary text after the run (call once the controller has closed, or while it runs). */
  render(elapsedMs: number): string {
    this.unsubscribe();
    const seconds = elapsedMs / 1000;
    const lines = [`ran ${seconds.toFixed(1)} s`];
    if (this.chains.length === 0) lines.push('no chains were running');
    for (const { name, atStop, deleted } of this.chains) {
      // Frames and host drops grow while flows drain: the latest figures there are.
      const now = trafficOf(this.api, name) ?? (deleted === undefined ? atStop : finalTraffic(atStop, deleted));
      const framesIn = now.enteredInside + now.enteredOutside;
      lines.push(`chain/${name}:`);
      lines.push(
        `  frames in   ${now.enteredInside} inside, ${now.enteredOutside} outside (${formatRate(seconds > 0 ? framesIn / seconds : 0)}/s on average)`,
        `  frames out  ${now.leftOutside} outside, ${now.leftInside} inside`,
      );
      // Pipeline and ring drops as read at the stop; whatever was read later over them.
      const merged: Record<string, number> = { ...atStop.drops, ...now.drops };
      const reasons = Object.entries(merged).sort((a, b) => b[1] - a[1]);
      if (reasons.length === 0) lines.push('  drops       none');
      else {
        lines.push(`  drops       ${now.dropped} in all, by reason:`);
        for (const [reason, n] of reasons.slice(0, MAX_DROP_REASONS)) lines.push(`    ${reason.padEnd(32)} ${n}`);
        if (reasons.length > MAX_DROP_REASONS) lines.push(`    … ${reasons.length - MAX_DROP_REASONS} more reasons`);
      }
      if (deleted !== undefined && deleted.details.flowsMovedOut !== undefined) {
        // Ends in the replicas: flows whose shard moved between replicas as they scaled.
        lines.push(`  flows moved ${deleted.details.flowsMovedOut} closed by the replica giving them up, ${deleted.details.flowsMovedIn ?? '?'} opened anew by the one taking them`);
      }
      if (deleted !== undefined) {
        lines.push(`  shutdown    ${deleted.details.leakedBuffers ?? '?'} buffers leaked, ${deleted.details.flowsLeft ?? '?'} flows still open when stopped`);
      }
    }
    return lines.join('\n');
  }
}

/** `chainTraffic(name)`, or undefined once the chain is gone. */
function trafficOf(api: ControllerApi, name: string): ChainTraffic | undefined {
  try {
    return api.chainTraffic(name);
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

/** The figures a chain's `deleted` event carries (see `ChainRuntime.delete`), over those read at the stop. */
function finalTraffic(atStop: ChainTraffic, deleted: ControllerEvent): ChainTraffic {
  const d = deleted.details;
  const figure = (key: string, fallback: number): number => (d[key] === undefined || Number.isNaN(Number(d[key])) ? fallback : Number(d[key]));
  const hostDrops: Record<string, number> = {};
  for (const [key, value] of Object.entries(d)) if (key.startsWith('host:')) hostDrops[key] = Number(value);
  return {
    chain: atStop.chain,
    enteredInside: figure('enteredInside', atStop.enteredInside),
    enteredOutside: figure('enteredOutside', atStop.enteredOutside),
    leftInside: figure('leftInside', atStop.leftInside),
    leftOutside: figure('leftOutside', atStop.leftOutside),
    dropped: figure('dropped', atStop.dropped),
    drops: hostDrops,
  };
}
