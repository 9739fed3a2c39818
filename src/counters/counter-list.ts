import { InvalidArgumentError } from '../errors/catalog.ts';

/** One counter as declared: its snake_case name (a metric's `reason` when it counts drops) and one line of help. */
export interface CounterDecl {
  /** snake_case, unique in its list; part of the metrics contract (append, never rename). */
  readonly name: string;
  /** True when the counter counts dropped packets (its name is then the drop reason). Default false. */
  readonly drop?: boolean;
  /** One line for `/metrics` help, `describe` and the docs. */
  readonly help: string;
}

/** A declared counter with `drop` filled in. */
export interface CounterEntry {
  readonly name: string;
  readonly drop: boolean;
  readonly help: string;
}

/** `{ NO_MAPPING: 0, PORTS_EXHAUSTED: 1, … }`: each name in UPPER_SNAKE case, to its slot. */
export type CounterIndex<L extends readonly CounterDecl[]> = {
  readonly [K in keyof L as K extends `${number}` ? (L[K] extends { readonly name: infer S extends string } ? Uppercase<S> : never) : never]: K extends `${infer N extends number}` ? N : never;
};

/** What `counterList` derives from one declaration. */
export interface CounterList<L extends readonly CounterDecl[]> {
  /** Slot of each counter by its UPPER_SNAKE name (a plain frozen object: `counters[Index.X]++`). */
  readonly index: CounterIndex<L>;
  /** Every counter in slot order, `drop` filled in (`CounterSpec`-compatible). */
  readonly entries: readonly CounterEntry[];
  /** Names in slot order (`names[slot]`). */
  readonly names: readonly L[number]['name'][];
  /** Number of counters: the length of a `Float64Array` of them. */
  readonly count: L['length'];
  /** Names of the drop counters, in slot order. */
  readonly dropNames: readonly string[];
  /** The declaration itself, with any fields of its own (e.g. where a counter is kept), in slot order. */
  readonly declared: L;
}

const SNAKE = /^[a-z][a-z0-9_]*$/;

/**
 * Derives everything a list of counters needs from ONE declaration (an `as const` array):
 * the index object, the names, the help lines, which ones count drops and how many there
 * are. Nothing is kept in order by hand: adding a counter is adding one line.
 *
 * Throws `InvalidArgumentError` (at module load) for a name that is not snake_case or
 * appears twice.
 *
 * @example
 * ```ts
 * const HOST_DROPS = counterList([
 *   { name: 'no_instance', drop: true, help: 'no active instance in the stage the frame had to enter' },
 *   { name: 'instance_gone', drop: true, help: 'frames waiting for an instance that stopped or failed' },
 * ] as const);
 * export const HostDrop = HOST_DROPS.index;      // { NO_INSTANCE: 0, INSTANCE_GONE: 1 }
 * const drops = new Float64Array(HOST_DROPS.count);
 * drops[HostDrop.INSTANCE_GONE]++;
 * HOST_DROPS.names[HostDrop.NO_INSTANCE];        // 'no_instance'
 * ```
 */
export function counterList<const L extends readonly CounterDecl[]>(list: L): CounterList<L> {
  const index: Record<string, number> = {};
  const entries: CounterEntry[] = [];
  for (const [slot, c] of list.entries()) {
    if (!SNAKE.test(c.name)) throw new InvalidArgumentError(`counter ${slot} '${c.name}': a counter name is snake_case ([a-z][a-z0-9_]*)`);
    const key = c.name.toUpperCase();
    if (key in index) throw new InvalidArgumentError(`counter ${slot} '${c.name}': declared twice (first at slot ${index[key]})`);
    index[key] = slot;
    entries.push(Object.freeze({ name: c.name, drop: c.drop === true, help: c.help }));
  }
  return Object.freeze({
    index: Object.freeze(index) as CounterIndex<L>,
    entries: Object.freeze(entries),
    names: Object.freeze(entries.map((e) => e.name)) as readonly L[number]['name'][],
    count: list.length as L['length'],
    dropNames: Object.freeze(entries.filter((e) => e.drop).map((e) => e.name)),
    declared: list,
  });
}
