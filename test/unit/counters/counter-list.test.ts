import { describe, expect, expectTypeOf, it } from 'vitest';
import { counterList } from '../../../src/counters/counter-list.ts';
import { InvalidArgumentError } from '../../../src/errors/catalog.ts';

describe('counterList', () => {
  const L = counterList([
    { name: 'no_mapping', drop: true, help: 'a' },
    { name: 'ports_exhausted', drop: true, help: 'b' },
    { name: 'mappings_created', help: 'c' },
  ] as const);

  it('derives the index, names, entries, count and drop names from one declaration', () => {
    expect(L.index).toEqual({ NO_MAPPING: 0, PORTS_EXHAUSTED: 1, MAPPINGS_CREATED: 2 });
    expectTypeOf(L.index.PORTS_EXHAUSTED).toEqualTypeOf<1>();
    expect(L.names).toEqual(['no_mapping', 'ports_exhausted', 'mappings_created']);
    expect(L.entries[2]).toEqual({ name: 'mappings_created', drop: false, help: 'c' });
    expect(L.count).toBe(3);
    expect(L.dropNames).toEqual(['no_mapping', 'ports_exhausted']);
    expect(Object.isFrozen(L.index) && Object.isFrozen(L.entries)).toBe(true);
    const withField = counterList([{ name: 'no_instance', field: 'noInstance', help: '' }] as const);
    expect(withField.declared[0].field).toBe('noInstance');
  });

  it('refuses a name declared twice or not snake_case', () => {
    expect(() => counterList([{ name: 'a', help: '' }, { name: 'a', help: '' }])).toThrow(InvalidArgumentError);
    expect(() => counterList([{ name: 'a', help: '' }, { name: 'a', help: '' }])).toThrow(/'a': declared twice \(first at slot 0\)/);
    expect(() => counterList([{ name: 'NoMapping', help: '' }])).toThrow(/snake_case/);
  });
});
