import type { CounterConstantModule } from '../../src/counters/counter-constant-modules.ts';
import { renderCounterConstants } from '../../src/counters/counter-constants.ts';
import { NAT_COUNTER_LIST } from './nat-counters.ts';

/**
 * The generated module of NAT's counter slots (`src/generated/nat-counter-codes.ts`), which
 * `NatEngine` imports as a namespace so that images inline the numbers and carry neither
 * `NAT_COUNTER_LIST` nor its help. Written by `scripts/generate-counter-constants.ts`
 * (`npm run gen:counters`) beside the framework's own; a test fails when it is stale.
 *
 * @example
 * ```ts
 * writeFileSync(NAT_COUNTER_CONSTANT_MODULE.path, NAT_COUNTER_CONSTANT_MODULE.render());
 * ```
 */
export const NAT_COUNTER_CONSTANT_MODULE: CounterConstantModule = {
  path: 'src/generated/nat-counter-codes.ts',
  render: () => renderCounterConstants({ entries: NAT_COUNTER_LIST.entries, declaredIn: 'functions/nat/nat-counters.ts', listName: 'NAT_COUNTER_LIST', indexName: 'NatCounter' }),
};
