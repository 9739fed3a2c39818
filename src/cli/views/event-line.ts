/**
 * Controller events as text lines with fixed columns, so `events --follow` can print each
 * event as it comes and still line up with the ones before.
 *
 * @example
 * ```ts
 * println(ctx, EVENT_HEADER);
 * for await (const e of client.watchEvents()) println(ctx, eventLine(e));
 * //   SEQ TIME (UTC)    TYPE               OBJECT                    REASON
 * //     4 17:20:01.532  instance-ready     web-edge/fw-0             taking new flows
 * ```
 */
import type { ControllerEvent } from '../../controller/controller-api.ts';
import { formatClock } from '../units.ts';

const SEQ_WIDTH = 6;
const TIME_WIDTH = 12;
/** Longest event type: `instance-draining`. */
const TYPE_WIDTH = 17;
const OBJECT_WIDTH = 24;

/** What the event is about: the instance, else `chain/function`, else the chain. */
export function eventObject(e: ControllerEvent): string {
  if (e.instance !== '') return e.instance;
  return e.function === '' ? e.chain : `${e.chain}/${e.function}`;
}

function line(seq: string, time: string, type: string, object: string, reason: string): string {
  return `${seq.padStart(SEQ_WIDTH)} ${time.padEnd(TIME_WIDTH)}  ${type.padEnd(TYPE_WIDTH)}  ${object.padEnd(OBJECT_WIDTH)}  ${reason}`.trimEnd();
}

/** Header line of the event columns. */
export const EVENT_HEADER = line('SEQ', 'TIME (UTC)', 'TYPE', 'OBJECT', 'REASON');

/** One event as a line. */
export function eventLine(e: ControllerEvent): string {
  return line(String(e.seq), formatClock(e.time), e.type, eventObject(e), e.reason);
}
