import { LimitExceededError } from '../errors/catalog.ts';
import type { ChainSpec } from '../spec/chain-spec.ts';
import { limitMessage, SPEC_LIMITS } from '../spec/spec-limits.ts';

/** The controller-wide limits `ApplyAdmission` enforces (defaults: `SPEC_LIMITS`). */
export interface ApplyAdmissionLimits {
  /** Most instances of all chains together (the sum of every function's `scaling.max`). */
  readonly instancesTotal: number;
  /** Most applies in progress at once; more are refused at once, not queued. */
  readonly concurrentApplies: number;
}

/** One apply let in: reserve its instances once its spec is known, release when it ends. */
export interface ApplyTicket {
  /**
   * Counts `spec`'s instances against the controller-wide limit, with those of `running`
   * chains (the chain of the same name excepted: it is being replaced) and of the other
   * applies in progress. Throws `LimitExceededError` (`spec.functions`) when they exceed it.
   */
  reserve(spec: ChainSpec, running: Iterable<ChainSpec>): void;
  /** Ends the apply (idempotent). */
  release(): void;
}

/**
 * Admission of applies: the controller's `RESOURCE_EXHAUSTED` limits. An apply first takes
 * a ticket (refused beyond `concurrentApplies` in progress, so a burst of applies fails
 * fast instead of queueing past its deadline and holding the event loop), then reserves
 * its chain's instances (refused when all chains together would exceed `instancesTotal`).
 *
 * @example
 * ```ts
 * const ticket = admission.enter();          // LimitExceededError: too many applies
 * try {
 *   ticket.reserve(spec, runningSpecs);      // LimitExceededError: too many instances
 *   await create(spec);
 * } finally {
 *   ticket.release();
 * }
 * ```
 */
export class ApplyAdmission {
  readonly limits: ApplyAdmissionLimits;
  private readonly reservations = new Map<object, { readonly name: string; readonly instances: number }>();
  private inFlight = 0;

  constructor(limits: Partial<ApplyAdmissionLimits> = {}) {
    this.limits = {
      instancesTotal: limits.instancesTotal ?? SPEC_LIMITS.instancesTotal.value,
      concurrentApplies: limits.concurrentApplies ?? SPEC_LIMITS.concurrentApplies.value,
    };
  }

  /** Applies in progress. */
  get applying(): number {
    return this.inFlight;
  }

  /** Lets one apply in, or throws `LimitExceededError` when `concurrentApplies` are in progress. */
  enter(): ApplyTicket {
    const limit = this.limits.concurrentApplies;
    if (this.inFlight >= limit) {
      throw new LimitExceededError(`too many applies at once: ${limitMessage('concurrentApplies', this.inFlight + 1, limit)}; retry when one has finished`, '', 'concurrentApplies');
    }
    this.inFlight++;
    const key = {};
    let open = true;
    return {
      reserve: (spec, running) => {
        const name = spec.metadata.name;
        const wanted = instancesOf(spec);
        let others = 0;
        for (const chain of running) if (chain.metadata.name !== name) others += instancesOf(chain);
        for (const [k, r] of this.reservations) if (k !== key && r.name !== name) others += r.instances;
        if (others + wanted > this.limits.instancesTotal) {
          throw new LimitExceededError(
            `chain "${name}" may run ${wanted} instances, the other chains ${others}: ${limitMessage('instancesTotal', others + wanted, this.limits.instancesTotal)}`,
            'spec.functions',
            'instancesTotal',
          );
        }
        this.reservations.set(key, { name, instances: wanted });
      },
      release: () => {
        if (!open) return;
        open = false;
        this.inFlight--;
        this.reservations.delete(key);
      },
    };
  }
}

/** The instances a chain may run: the sum of its functions' `scaling.max`. */
export function instancesOf(spec: ChainSpec): number {
  let n = 0;
  for (const fn of spec.spec.functions) n += fn.scaling.max;
  return n;
}
