import { describe, expect, it } from 'vitest';
import { DROP_REASON_COUNT, DROP_REASON_NAMES, DropReason, dropReasonName } from '../../../src/packet/drop-reason.ts';

describe('drop reasons', () => {
  it('codes are 0..COUNT-1 without gaps or duplicates, OK is 0', () => {
    const codes = Object.values(DropReason).sort((a, b) => a - b);
    expect(codes).toEqual(Array.from({ length: DROP_REASON_COUNT }, (_, i) => i));
    expect(DropReason.OK).toBe(0);
  });

  it('names are unique snake_case, indexed by code', () => {
    expect(DROP_REASON_NAMES).toHaveLength(DROP_REASON_COUNT);
    expect(new Set(DROP_REASON_NAMES).size).toBe(DROP_REASON_COUNT);
    for (const [key, code] of Object.entries(DropReason)) {
      expect(DROP_REASON_NAMES[code]).toBe(key.toLowerCase());
      expect(DROP_REASON_NAMES[code]).toMatch(/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/);
    }
    expect(dropReasonName(DropReason.IPV4_BAD_CHECKSUM)).toBe('ipv4_bad_checksum');
    expect(dropReasonName(999)).toBe('unknown_999');
    expect(dropReasonName(1.5)).toBe('unknown_1.5');
  });
});
