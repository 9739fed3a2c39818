/**
 * Captures on the controller's chains: which link of a chain's data plane a request names
 * (`function` + `side`), and the sessions open on each chain, closed when it goes.
 *
 * ```
 *  isolated:  inside end ─ link 0 ─ fw ─ link 1 ─ lb ─ link 2 ─ nat ─ link 3 ─ outside end
 *             (fw outside = lb inside = link 1)
 *  fused:     inside end ─ link 0 ─ [fw → lb → nat] ─ link 1 ─ outside end
 *             (frames between the functions never cross the host: only fw inside, nat outside)
 * ```
 *
 * @example
 * ```ts
 * const session = captures.open(chainRuntime, { function: 'lb', side: 'inside', filter: 'tcp port 80', count: 100 });
 * ```
 */
import { CaptureQueue } from '../capture/capture-queue.ts';
import { CaptureSession } from '../capture/capture-session.ts';
import { LinkTap } from '../capture/link-tap.ts';
import { compileFilter } from '../capture/packet-filter.ts';
import { FailedPreconditionError, InvalidArgumentError, LimitExceededError, NotFoundError } from '../errors/catalog.ts';
import type { ChainRuntime } from './chain-runtime.ts';
import type { CaptureRequest } from './controller-api.ts';

/** Captures open at once on one chain. */
export const MAX_CAPTURES_PER_CHAIN = 4;
/** Largest `snaplen` accepted (a pool buffer holds less). */
export const MAX_SNAPLEN = 65535;

/** A link of a chain: its index in the data plane and its name for people. */
export interface ChainLink {
  readonly index: number;
  readonly name: string;
}

/** The functions of `chain` in chain order (a fused chain's parts). */
export function chainFunctionNames(chain: ChainRuntime): string[] {
  return chain.functions.flatMap((f) => (f.parts === undefined ? [f.spec.name] : f.parts.map((p) => p.name)));
}

/** The link at `fn`'s `side` (default: the first function's inside). */
export function chainLink(chain: ChainRuntime, fn: string | undefined, side: 'inside' | 'outside'): ChainLink {
  const names = chainFunctionNames(chain);
  const name = fn === undefined || fn === '' ? names[0] : fn;
  const p = names.indexOf(name);
  if (p < 0) throw new NotFoundError(`chain "${chain.name}" has no function "${name}"; it has: ${names.join(', ')}`);
  const fused = chain.functions.length === 1 && chain.functions[0].parts !== undefined;
  if (chain.replicaEnds !== undefined) {
    throw new FailedPreconditionError(`chain "${chain.name}" runs its ends in its replicas (${chain.endsPlacement.reason}): no frame crosses the host to capture`);
  }
  if (fused) {
    if (side === 'inside' && p === 0) return { index: 0, name: `link 0: chain inside end, ${name} inside` };
    if (side === 'outside' && p === names.length - 1) return { index: 1, name: `link 1: ${name} outside, chain outside end` };
    throw new FailedPreconditionError(
      `chain "${chain.name}" runs fused: frames between its functions never cross the host; capture ${names[0]} inside or ${names[names.length - 1]} outside`,
    );
  }
  const k = side === 'inside' ? p : p + 1;
  const left = k === 0 ? 'chain inside end' : `${names[k - 1]} outside`;
  const right = k === names.length ? 'chain outside end' : `${names[k]} inside`;
  return { index: k, name: `link ${k}: ${left}, ${right}` };
}

/** The captures open on the controller's chains. */
export class ChainCaptures {
  private readonly open = new Map<ChainRuntime, Set<CaptureSession>>();

  /**
   * Starts a capture on `chain` as `request` says. Throws `FilterSyntaxError` (bad filter),
   * `InvalidArgumentError` (bad count or snaplen), `NotFoundError` (no such function),
   * `FailedPreconditionError` (a link of a fused chain that does not cross the host; any link
   * of a chain whose ends run in its replicas),
   * `LimitExceededError` (`MAX_CAPTURES_PER_CHAIN` open).
   */
  openOn(chain: ChainRuntime, request: CaptureRequest): CaptureSession {
    const count = request.count ?? 0;
    const snaplen = request.snaplen ?? 0;
    if (!Number.isInteger(count) || count < 0) throw new InvalidArgumentError(`count must be a whole number ≥ 0 (0: until cancelled), got ${count}`);
    if (!Number.isInteger(snaplen) || snaplen < 0 || snaplen > MAX_SNAPLEN) throw new InvalidArgumentError(`snaplen must be 0 (whole frames) or 1..${MAX_SNAPLEN}, got ${snaplen}`);
    const filter = compileFilter(request.filter ?? '');
    const link = chainLink(chain, request.function, request.side ?? 'inside');
    if (chain.phase === 'Deleting') throw new FailedPreconditionError(`chain "${chain.name}" is being deleted`);
    let sessions = this.open.get(chain);
    if (sessions === undefined) this.open.set(chain, (sessions = new Set()));
    if (sessions.size >= MAX_CAPTURES_PER_CHAIN) {
      throw new LimitExceededError(`chain "${chain.name}" already has ${MAX_CAPTURES_PER_CHAIN} captures open`, 'chain', 'capturesPerChain');
    }
    const tap = new LinkTap(filter, new CaptureQueue(), { snaplen, limit: count });
    const session = new CaptureSession(link.name, chain.dataPlane, link.index, tap);
    const set = sessions;
    set.add(session);
    session.whenClosed(() => {
      set.delete(session);
      if (set.size === 0 && this.open.get(chain) === set) this.open.delete(chain);
    });
    return session;
  }

  /** Closes every capture open on `chain` (it is being deleted). */
  closeAll(chain: ChainRuntime): void {
    for (const s of [...(this.open.get(chain) ?? [])]) s.close();
  }
}
