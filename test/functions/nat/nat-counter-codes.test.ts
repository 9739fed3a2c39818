import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NAT_COUNTER_CONSTANT_MODULE, NAT_DROP_RESULT_MODULE } from '../../../functions/nat/nat-counter-constants.ts';
import { DROP_BASE } from '../../../functions/nat/nat-result.ts';
import * as NatDropResults from '../../../src/generated/nat-drop-results.ts';
import { NAT_COUNTER_LIST, NatCounter } from '../../../functions/nat/nat-counters.ts';
import * as NatCounterCodes from '../../../src/generated/nat-counter-codes.ts';
import { PACKAGE_ROOT } from '../../../src/image/package-info.ts';

describe('nat: generated counter constants', () => {
  it('are current (else run npm run gen:counters) and equal NatCounter name for name', () => {
    expect(readFileSync(join(PACKAGE_ROOT, NAT_COUNTER_CONSTANT_MODULE.path), 'utf8')).toBe(NAT_COUNTER_CONSTANT_MODULE.render());
    expect({ ...NatCounterCodes }).toEqual({ ...NatCounter });
    expect(Object.keys(NatCounterCodes)).toHaveLength(NAT_COUNTER_LIST.count);
  });

  it('drop results are current and equal DROP_BASE + the drop counter slot, one per drop counter', () => {
    expect(readFileSync(join(PACKAGE_ROOT, NAT_DROP_RESULT_MODULE.path), 'utf8')).toBe(NAT_DROP_RESULT_MODULE.render());
    const expected = Object.fromEntries(NAT_COUNTER_LIST.entries.flatMap((e, slot) => (e.drop ? [[`DROP_${e.name.toUpperCase()}`, DROP_BASE + slot]] : [])));
    expect({ ...NatDropResults }).toEqual(expected);
    expect(NatDropResults.DROP_NO_MAPPING).toBe(DROP_BASE + NatCounter.NO_MAPPING);
  });
});
