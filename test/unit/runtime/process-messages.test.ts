import { describe, expect, it } from 'vitest';
import { parseProcessMessage } from '../../../src/runtime/process-messages.ts';

const startup = { startedAt: 10.5, attachMs: 0.5, pipelineMs: 0, refillMs: 0.3, sandboxMs: 0.1, prepared: true, readyAt: 12 };
const line = (x: unknown): string => JSON.stringify(x);

describe('parseProcessMessage', () => {
  it('accepts every message of the protocol and keeps only the fields it knows', () => {
    expect(parseProcessMessage(line({ type: 'ready', name: 'fw', counters: 3, startup: { ...startup, extra: 1 }, extra: 'x' }))).toEqual({ type: 'ready', name: 'fw', counters: 3, startup });
    expect(parseProcessMessage(line({ type: 'ready', name: 'fw', counters: 0 }))).toEqual({ type: 'ready', name: 'fw', counters: 0 });
    const takeover = { adopted: 5, rejected: 1 };
    expect(parseProcessMessage(line({ type: 'ready', name: 'nat', counters: 9, startup: { ...startup, takeover: { ...takeover, more: 2 } } }))).toEqual({ type: 'ready', name: 'nat', counters: 9, startup: { ...startup, takeover } });
    expect(parseProcessMessage(line({ type: 'closing', x: 1 }))).toEqual({ type: 'closing' });
    expect(parseProcessMessage(line({ type: 'stopped', received: 100, batches: 7 }))).toEqual({ type: 'stopped', received: 100, batches: 7 });
    expect(parseProcessMessage(line({ type: 'crashed', name: 'TypeError', message: 'boom' }))).toEqual({ type: 'crashed', name: 'TypeError', message: 'boom' });
    expect(parseProcessMessage(line({ type: 'idle' }))).toEqual({ type: 'idle' });
  });

  it.each([
    ['not JSON', '{"type":', /not JSON/],
    ['not an object', '42', /not an object/],
    ['an array', '[1]', /not an object/],
    ['null', 'null', /not an object/],
    ['an unknown type', line({ type: 'boot' }), /unknown type/],
    ['no type', line({ name: 'x' }), /unknown type/],
    ['a ready name too long', line({ type: 'ready', name: 'n'.repeat(257), counters: 1 }), /ready\.name/],
    ['a ready name not a string', line({ type: 'ready', name: 7, counters: 1 }), /ready\.name/],
    ['negative counters', line({ type: 'ready', name: 'x', counters: -1 }), /ready\.counters/],
    ['fractional counters', line({ type: 'ready', name: 'x', counters: 1.5 }), /ready\.counters/],
    ['a startup that is not an object', line({ type: 'ready', name: 'x', counters: 1, startup: 3 }), /startup is not an object/],
    ['a startup time that is null (NaN in JSON)', line({ type: 'ready', name: 'x', counters: 1, startup: { ...startup, attachMs: null } }), /finite/],
    ['a startup time that is a string', line({ type: 'ready', name: 'x', counters: 1, startup: { ...startup, readyAt: '1' } }), /finite/],
    ['startup.prepared not a boolean', line({ type: 'ready', name: 'x', counters: 1, startup: { ...startup, prepared: 1 } }), /prepared/],
    ['a takeover with a negative count', line({ type: 'ready', name: 'x', counters: 1, startup: { ...startup, takeover: { adopted: -1, rejected: 0 } } }), /takeover/],
    ['negative stopped totals', line({ type: 'stopped', received: -1, batches: 0 }), /stopped totals/],
    ['stopped totals missing', line({ type: 'stopped', received: 1 }), /stopped totals/],
    ['a crash message too long', line({ type: 'crashed', name: 'E', message: 'm'.repeat(4001) }), /crashed/],
  ])('refuses %s', (_, text, reason) => {
    const m = parseProcessMessage(text);
    expect(typeof m).toBe('string');
    expect(m).toMatch(reason);
  });
});
