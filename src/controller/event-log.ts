import type { ControllerEvent, ControllerEventType, Unsubscribe } from './controller-api.ts';

/** What a caller records; the log adds `seq` and `time`. */
export interface EventInput {
  readonly type: ControllerEventType;
  readonly chain: string;
  readonly function?: string;
  readonly instance?: string;
  readonly reason: string;
  readonly details?: Readonly<Record<string, string | number>>;
}

/**
 * The controller's lifecycle events, numbered from 1, with a bounded history (oldest
 * dropped first) so a late `WatchEvents` still sees what happened, in order, then follows.
 *
 * @example
 * ```ts
 * const log = new EventLog(1000);
 * const off = log.subscribe((e) => console.log(e.seq, e.type), 0);
 * log.record({ type: 'applied', chain: 'web-edge', reason: 'created' });
 * off();
 * ```
 */
export class EventLog {
  private readonly history: ControllerEvent[] = [];
  private readonly listeners = new Set<(event: ControllerEvent) => void>();
  private seq = 0;

  constructor(private readonly capacity = 10_000) {}

  /** Sequence number of the last event (0 before any). */
  get lastSeq(): number {
    return this.seq;
  }

  /** Appends an event and hands it to every listener. A listener that throws is removed. */
  record(input: EventInput): ControllerEvent {
    const details: Record<string, string> = {};
    for (const [k, v] of Object.entries(input.details ?? {})) details[k] = String(v);
    const event: ControllerEvent = {
      seq: ++this.seq,
      time: Date.now(),
      type: input.type,
      chain: input.chain,
      function: input.function ?? '',
      instance: input.instance ?? '',
      reason: input.reason,
      details,
    };
    this.history.push(event);
    if (this.history.length > this.capacity) this.history.splice(0, this.history.length - this.capacity);
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch {
        this.listeners.delete(listener);
      }
    }
    return event;
  }

  /** Replays the kept events with `seq > afterSeq`, then follows new ones until unsubscribed. */
  subscribe(listener: (event: ControllerEvent) => void, afterSeq: number): Unsubscribe {
    for (const event of this.history) if (event.seq > afterSeq) listener(event);
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Kept events with `seq > afterSeq`. */
  since(afterSeq: number): ControllerEvent[] {
    return this.history.filter((e) => e.seq > afterSeq);
  }
}
