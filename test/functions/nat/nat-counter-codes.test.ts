import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NAT_COUNTER_CONSTANT_MODULE } from '../../../functions/nat/nat-counter-constants.ts';
import { NAT_COUNTER_LIST, NatCounter } from '../../../functions/nat/nat-counters.ts';
import * as NatCounterCodes from '../../../src/generated/nat-counter-codes.ts';
import { PACKAGE_ROOT } from '../../../src/image/package-info.ts';

describe('nat: generated counter constants', () => {
  it('are current (else run npm run gen:counters) and equal NatCounter name for name', () => {
    expect(readFileSync(join(PACKAGE_ROOT, NAT_COUNTER_CONSTANT_MODULE.path), 'utf8')).toBe(NAT_COUNTER_CONSTANT_MODULE.render());
    expect({ ...NatCounterCodes }).toEqual({ ...NatCounter });
    expect(Object.keys(NatCounterCodes)).toHaveLength(NAT_COUNTER_LIST.count);
  });
});
