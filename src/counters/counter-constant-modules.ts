import { CT_COUNTER_LIST } from '../conntrack/conntrack-counters.ts';
import { DROP_REASON_LIST } from '../packet/drop-reason.ts';
import { renderCounterConstants } from './counter-constants.ts';

/** A generated counter-constants module: its package-relative path and its text. */
export interface CounterConstantModule {
  readonly path: string;
  render(): string;
}

/**
 * Every module `scripts/generate-counter-constants.ts` writes (and the test checks is
 * current): the counter lists whose slots code in images reads (the parser's drop reasons,
 * the connection table's counters).
 */
export const COUNTER_CONSTANT_MODULES: readonly CounterConstantModule[] = [
  {
    path: 'src/generated/drop-reason-codes.ts',
    render: () => renderCounterConstants({ entries: DROP_REASON_LIST.entries, declaredIn: 'src/packet/drop-reason.ts', listName: 'DROP_REASON_LIST', indexName: 'DropReason' }),
  },
  {
    path: 'src/generated/conntrack-counter-codes.ts',
    render: () =>
      renderCounterConstants({ entries: CT_COUNTER_LIST.entries, declaredIn: 'src/conntrack/conntrack-counters.ts', listName: 'CT_COUNTER_LIST', indexName: 'CtCounter', countName: 'SLOT_COUNT' }),
  },
];
