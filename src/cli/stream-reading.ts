/**
 * Reading the controller's server streams from a command line: stop a stream when the user
 * interrupts, and read the history `WatchEvents` replays (the stream never says where the
 * history ends, so it ends at the first quiet gap).
 *
 * @example
 * ```ts
 * const events = await readHistory(client.watchEvents({ chain: 'web-edge' }));
 * const stream = client.streamStats({ intervalMs: 1000 });
 * const release = cancelOnAbort(stream, ctx.stopSignal());
 * for await (const snap of stream) show(snap);
 * release();
 * ```
 */
import type { ControllerStream } from '../grpc/controller-client.ts';

/** Cancels `stream` when `signal` aborts (the loop over it then ends normally); returns the unhook. */
export function cancelOnAbort(stream: ControllerStream<unknown>, signal: AbortSignal): () => void {
  if (signal.aborted) {
    stream.cancel();
    return () => undefined;
  }
  const onAbort = (): void => stream.cancel();
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}

/** Timing of {@link readHistory}, ms. */
export interface HistoryTiming {
  /** Longest wait for the first item (history may be empty). Default 1000. */
  readonly firstMs?: number;
  /** A gap this long after an item ends the history. Default 200. */
  readonly quietMs?: number;
  /** Longest time spent reading in all. Default 5000. */
  readonly maxMs?: number;
}

const QUIET = Symbol('quiet');

/**
 * Reads items until none arrives for `quietMs` (or `firstMs` before the first one), the
 * stream ends, or `maxMs` passed, then cancels the stream. Stream errors are thrown.
 */
export async function readHistory<T>(stream: ControllerStream<T>, timing: HistoryTiming = {}): Promise<T[]> {
  const { firstMs = 1000, quietMs = 200, maxMs = 5000 } = timing;
  const it = stream[Symbol.asyncIterator]();
  const items: T[] = [];
  const deadline = Date.now() + maxMs;
  let timer: NodeJS.Timeout | undefined;
  try {
    for (;;) {
      const wait = Math.min(items.length === 0 ? firstMs : quietMs, deadline - Date.now());
      if (wait <= 0) break;
      const next = it.next();
      const quiet = new Promise<typeof QUIET>((resolve) => (timer = setTimeout(resolve, wait, QUIET)));
      const result = await Promise.race([next, quiet]);
      clearTimeout(timer);
      if (result === QUIET) {
        // The pending read settles once the stream is cancelled below.
        next.catch(() => undefined);
        break;
      }
      if (result.done === true) break;
      items.push(result.value);
    }
  } finally {
    clearTimeout(timer);
    stream.cancel();
  }
  return items;
}
