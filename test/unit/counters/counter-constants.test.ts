import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COUNTER_CONSTANT_MODULES } from '../../../src/counters/counter-constant-modules.ts';
import { renderCounterConstants } from '../../../src/counters/counter-constants.ts';
import { counterList } from '../../../src/counters/counter-list.ts';
import * as CtCounterCodes from '../../../src/generated/conntrack-counter-codes.ts';
import * as DropReasonCodes from '../../../src/generated/drop-reason-codes.ts';
import { CT_COUNTER_COUNT, CtCounter } from '../../../src/conntrack/conntrack-counters.ts';
import { PACKAGE_ROOT } from '../../../src/image/package-info.ts';
import { DROP_REASON_LIST, DropReason } from '../../../src/packet/drop-reason.ts';

describe('generated counter constants', () => {
  it('are current: each module under src/generated is what its list renders (else run npm run gen:counters)', () => {
    expect(COUNTER_CONSTANT_MODULES.length).toBeGreaterThan(0);
    for (const m of COUNTER_CONSTANT_MODULES) expect(readFileSync(join(PACKAGE_ROOT, m.path), 'utf8'), m.path).toBe(m.render());
  });

  it('the drop-reason codes images inline are the DropReason slots, name for name', () => {
    expect({ ...DropReasonCodes }).toEqual({ ...DropReason });
    expect(Object.keys(DropReasonCodes)).toHaveLength(DROP_REASON_LIST.count);
  });

  it('the conntrack counter slots images inline are CtCounter, name for name, and SLOT_COUNT its length', () => {
    expect({ ...CtCounterCodes }).toEqual({ ...CtCounter, SLOT_COUNT: CT_COUNTER_COUNT });
  });

  it('refuses a count constant that names a counter', () => {
    const list = counterList([{ name: 'slot_count', help: 'x' }] as const);
    expect(() => renderCounterConstants({ entries: list.entries, declaredIn: 'x.ts', listName: 'L', indexName: 'I', countName: 'SLOT_COUNT' })).toThrow(/SLOT_COUNT is a counter's name/);
  });

  it('renders one constant per slot with its help as TSDoc, and a changed list renders differently', () => {
    const list = counterList([
      { name: 'first_thing', help: 'the first */ thing' },
      { name: 'second_thing', drop: true, help: 'the second' },
    ] as const);
    const text = renderCounterConstants({ entries: list.entries, declaredIn: 'x.ts', listName: 'L', indexName: 'I' });
    expect(text).toContain('/** the first *\\/ thing */\nexport const FIRST_THING = 0;\n');
    expect(text).toContain('/** the second */\nexport const SECOND_THING = 1;\n');
    expect(text.startsWith('// GENERATED')).toBe(true);
    const other = counterList([{ name: 'second_thing', help: 'the second' }] as const);
    expect(renderCounterConstants({ entries: other.entries, declaredIn: 'x.ts', listName: 'L', indexName: 'I' })).toContain('export const SECOND_THING = 0;');
  });
});
