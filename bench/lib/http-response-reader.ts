/**
 * Splits the bytes of one HTTP/1.1 keep-alive connection into responses (status line,
 * headers, a `content-length` body; no chunked encoding, which the lab's servers never
 * send). Used by the load tools that drive raw sockets so that every close, reset and
 * response of a connection is seen, not hidden by an HTTP agent.
 *
 * @example
 * ```ts
 * const reader = new HttpResponseReader();
 * socket.on('data', (chunk) => {
 *   for (let r = reader.push(chunk); r !== null; r = reader.next()) handle(r.status, r.body);
 * });
 * ```
 */

/** One complete response. */
export interface HttpResponse {
  readonly status: number;
  /** The body as text (latin1; the lab's bodies are ASCII JSON). */
  readonly body: string;
}

const HEADER_END = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = /\r\ncontent-length:\s*(\d+)/i;

/** Incremental response splitter; see the module documentation. */
export class HttpResponseReader {
  private pending: Buffer | null = null;

  /** Bytes received and not yet part of a complete response. */
  get buffered(): number {
    return this.pending?.length ?? 0;
  }

  /** Adds received bytes; returns the first complete response, if any (then call `next()` for more). */
  push(chunk: Buffer): HttpResponse | null {
    this.pending = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    return this.next();
  }

  /** The next complete response among the bytes received, or null. */
  next(): HttpResponse | null {
    const buf = this.pending;
    if (buf === null) return null;
    const end = buf.indexOf(HEADER_END);
    if (end < 0) return null;
    const head = buf.toString('latin1', 0, end);
    const m = CONTENT_LENGTH.exec(head);
    const total = end + 4 + (m === null ? 0 : Number(m[1]));
    if (buf.length < total) return null;
    const body = buf.toString('latin1', end + 4, total);
    this.pending = buf.length > total ? buf.subarray(total) : null;
    return { status: Number(head.slice(9, 12)), body };
  }
}
