// Long-lived HTTP/1.1 keep-alive connections, each sending a request every INTERVAL_MS on
// its own socket, steered by commands appended to a control file (one per line):
// `open <set> <n>`, `close <set>` (each connection ends after its current request),
// `stop` (close every set, print the report as the last line, exit). Each command is
// acknowledged with `ack <line>` on stdout. A connection fails on an error, a close it did
// not ask for, a status other than 200, or a request unanswered for REQUEST_TIMEOUT_MS.
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';

const [host, portText, controlFile] = process.argv.slice(2);
const port = Number(portText);
const INTERVAL_MS = 40;
const REQUEST_TIMEOUT_MS = 2000;
/** A connection whose last answer is older than this when the report is made is stalled. */
const STALLED_MS = 1500;

interface Conn {
  readonly set: string;
  readonly socket: Socket;
  requests: number;
  lastOk: number;
  sentAt: number;
  closing: boolean;
  closed: boolean;
  failure?: string;
  buffer: string;
}

const conns: Conn[] = [];

function fail(c: Conn, why: string): void {
  if (c.failure === undefined && !c.closed) c.failure = why;
}

function send(c: Conn): void {
  if (c.closing) {
    c.socket.end();
    return;
  }
  c.sentAt = performance.now();
  c.socket.write(`GET /long?set=${c.set}&i=${c.requests} HTTP/1.1\r\nHost: ${host}\r\nConnection: keep-alive\r\n\r\n`);
}

function open(set: string): void {
  const socket = connect({ host, port });
  const c: Conn = { set, socket, requests: 0, lastOk: performance.now(), sentAt: 0, closing: false, closed: false, buffer: '' };
  conns.push(c);
  socket.setEncoding('utf8');
  socket.on('connect', () => send(c));
  socket.on('data', (d: string) => {
    c.buffer += d;
    for (;;) {
      const end = c.buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = c.buffer.slice(0, end);
      const length = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      if (c.buffer.length < end + 4 + length) return;
      c.buffer = c.buffer.slice(end + 4 + length);
      if (!head.startsWith('HTTP/1.1 200')) fail(c, `status: ${head.split('\r\n')[0]}`);
      c.requests++;
      c.lastOk = performance.now();
      c.sentAt = 0;
      setTimeout(() => send(c), INTERVAL_MS);
    }
  });
  socket.on('error', (err: NodeJS.ErrnoException) => fail(c, err.code ?? err.message));
  socket.on('close', () => {
    if (!c.closing) fail(c, 'closed by the peer');
    c.closed = true;
  });
}

const timer = setInterval(() => {
  const now = performance.now();
  for (const c of conns) {
    if (!c.closed && c.sentAt > 0 && now - c.sentAt > REQUEST_TIMEOUT_MS) {
      fail(c, `no answer in ${REQUEST_TIMEOUT_MS} ms`);
      c.closing = true;
      c.socket.destroy();
    }
  }
}, 100);

let done = 0;
const control = setInterval(() => {
  let lines: string[];
  try {
    lines = readFileSync(controlFile, 'utf8').split('\n').filter((l) => l.trim() !== '');
  } catch {
    return;
  }
  for (; done < lines.length; done++) {
    const [verb, set, n] = lines[done].trim().split(/\s+/);
    if (verb === 'open') {
      for (let i = 0; i < Number(n); i++) open(set);
    } else if (verb === 'close') {
      for (const c of conns) if (c.set === set) c.closing = true;
    } else if (verb === 'stop') {
      void stop();
    }
    console.log(`ack ${lines[done].trim()}`);
  }
}, 20);

async function stop(): Promise<void> {
  clearInterval(control);
  const now = performance.now();
  for (const c of conns) if (!c.closed && !c.closing && now - c.lastOk > STALLED_MS) fail(c, `stalled: last answer ${Math.round(now - c.lastOk)} ms ago`);
  for (const c of conns) c.closing = true;
  const deadline = performance.now() + 3000;
  while (conns.some((c) => !c.closed) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  clearInterval(timer);
  const sets: Record<string, { connections: number; requests: number[]; failures: string[] }> = {};
  for (const c of conns) {
    const s = (sets[c.set] ??= { connections: 0, requests: [], failures: [] });
    s.connections++;
    s.requests.push(c.requests);
    if (c.failure !== undefined) s.failures.push(c.failure);
    if (!c.closed) c.socket.destroy();
  }
  console.log(JSON.stringify({ sets }));
  process.exit(0);
}
