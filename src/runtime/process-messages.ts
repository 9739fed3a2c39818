/**
 * The check of what an instance process writes on its message pipe (fd 3): one JSON line
 * per message, never trusted. Written out by hand rather than as a schema object: a boot's
 * `ready` is checked on the host's path to `running`, and a schema library's parse took
 * 0.2–0.5 ms there after the host had idled (its many small closures are cold by then),
 * where these few type tests take microseconds.
 */
import type { InstanceMessage, InstanceStartup } from './instance-main.ts';
import type { ProcessCrash, ProcessIdle } from './instance-process-protocol.ts';

/** Every message an instance process may write. */
export type ProcessMessage = InstanceMessage | ProcessCrash | ProcessIdle;

/** Longest `name` of a `ready` or `crashed` message. */
const MAX_NAME = 256;
/** Longest `message` of a `crashed` message. */
const MAX_CRASH_MESSAGE = 4000;

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const count = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
const text = (x: unknown, max: number): x is string => typeof x === 'string' && x.length <= max;

function startupOf(x: unknown): InstanceStartup | string {
  if (!isObject(x)) return 'startup is not an object';
  const { startedAt, attachMs, pipelineMs, refillMs, sandboxMs, prepared, readyAt, takeover } = x;
  if (!finite(startedAt) || !finite(attachMs) || !finite(pipelineMs) || !finite(refillMs) || !finite(sandboxMs) || !finite(readyAt)) return 'a startup time that is not a finite number';
  if (typeof prepared !== 'boolean') return 'startup.prepared is not a boolean';
  const startup = { startedAt, attachMs, pipelineMs, refillMs, sandboxMs, prepared, readyAt };
  if (takeover === undefined) return startup;
  if (!isObject(takeover) || !count(takeover.adopted) || !count(takeover.rejected)) return 'startup.takeover is not two counts';
  return { ...startup, takeover: { adopted: takeover.adopted, rejected: takeover.rejected } };
}

/**
 * Parses and checks one message line of an instance process: the message (a new object
 * holding only the fields the protocol knows) or what is wrong with it.
 *
 * @example
 * ```ts
 * const m = parseProcessMessage('{"type":"idle"}');
 * if (typeof m === 'string') fail(`protocol violation: ${m}`);
 * ```
 */
export function parseProcessMessage(line: string): ProcessMessage | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return 'a message that is not JSON';
  }
  if (!isObject(value)) return 'a message outside the protocol (not an object)';
  switch (value.type) {
    case 'ready': {
      if (!text(value.name, MAX_NAME)) return 'a message outside the protocol (ready.name)';
      if (!count(value.counters)) return 'a message outside the protocol (ready.counters)';
      if (value.startup === undefined) return { type: 'ready', name: value.name, counters: value.counters };
      const startup = startupOf(value.startup);
      if (typeof startup === 'string') return `a message outside the protocol (${startup})`;
      return { type: 'ready', name: value.name, counters: value.counters, startup };
    }
    case 'closing':
      return { type: 'closing' };
    case 'stopped':
      if (!finite(value.received) || value.received < 0 || !finite(value.batches) || value.batches < 0) return 'a message outside the protocol (stopped totals)';
      return { type: 'stopped', received: value.received, batches: value.batches };
    case 'crashed':
      if (!text(value.name, MAX_NAME) || !text(value.message, MAX_CRASH_MESSAGE)) return 'a message outside the protocol (crashed)';
      return { type: 'crashed', name: value.name, message: value.message };
    case 'idle':
      return { type: 'idle' };
    default:
      return 'a message outside the protocol (unknown type)';
  }
}
