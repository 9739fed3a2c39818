/**
 * Child process of the "io" bench suite, started inside a lab namespace (`Lab.spawnNode`),
 * so its sockets live there and its CPU time is its own. One JSON argument (`IoWorkerParams`)
 * picks the role:
 *
 * - `blast`: sends `payload`-byte datagrams to `target` as fast as it can through the native
 *   addon (`BatchedUdpSocket`, native back end: one `sendmmsg` of `batch` rows per call,
 *   `UDP_SEGMENT` runs when `gso`), waiting for writability when the socket would block.
 *   Prints `ready`, then `tick <epoch ms> <datagrams sent>` every 100 ms, until `maxSeconds`.
 * - `receive`: receives on `listen` through `path` (`dgram`: Node's plain socket and its
 *   'message' events; `batched-dgram`: `BatchedUdpSocket` dgram back end, copied into a
 *   SharedArrayBuffer pool; `native`: `BatchedUdpSocket` native back end, `batch` rows per
 *   `recvmmsg`) and counts.
 * - `forward`: receives like `receive` and sends every datagram on to `target` (the sink).
 *
 * `receive` and `forward` print `ready` once bound, wait `warmupMs`, print `window-start`,
 * measure for `windowMs` (datagrams, this process's CPU time from `process.cpuUsage()`, the
 * namespace's `/proc/net/snmp` Udp counters), print `window-end`, then `result <json>` and
 * exit. Every role exits by itself after `maxSeconds` at the latest.
 */
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { openBatchedUdpSocket, type BatchedUdpSocket } from '../../src/io/batched-udp-socket.ts';
import { UDP_DESC_WORDS, UdpRx, UdpTx } from '../../src/io/udp-descriptor.ts';
import { parseIpv4 } from '../../src/packet/ipv4.ts';

export interface IoWorkerParams {
  role: 'blast' | 'receive' | 'forward';
  /** Receive path (receive, forward). */
  path?: 'dgram' | 'batched-dgram' | 'native';
  listen: { address: string; port: number };
  /** blast: destination; forward: the sink. */
  target?: { address: string; port: number };
  /** Rows per receive call (receive, forward) or per send call (blast). */
  batch: number;
  /** UDP_SEGMENT on send (blast, forward with the native path). */
  gso: boolean;
  /** blast: UDP payload bytes. */
  payload?: number;
  warmupMs?: number;
  windowMs?: number;
  /** Hard bound on the process's life. */
  maxSeconds: number;
}

/** What `receive` and `forward` print after `result `. */
export interface IoWorkerResult {
  path: string;
  batch: number;
  gso: boolean;
  /** Window, epoch ms. */
  startedAt: number;
  endedAt: number;
  seconds: number;
  received: number;
  /** forward: datagrams the socket took (status 0). */
  sent: number;
  sendErrors: number;
  receiveErrors: number;
  /** dgram back end's own queue drops. */
  queueDrops: number;
  /** This process's CPU over the window, seconds. */
  userSeconds: number;
  systemSeconds: number;
  /** Deltas of the namespace's /proc/net/snmp Udp counters over the window. */
  udp: Record<string, number>;
  receiveBufferBytes: number;
}

/** Datagrams handled per readiness callback at most, so timers still run under overload. */
const PER_WAKE = 4096;
const SLOT = 2048;
const RCVBUF = 4 << 20;
const SNDBUF = 4 << 20;

const params = JSON.parse(process.argv[2] ?? '{}') as IoWorkerParams;
const hardStop = setTimeout(() => {
  console.error(`io worker (${params.role}) reached its ${params.maxSeconds} s bound`);
  process.exit(3);
}, params.maxSeconds * 1000);
hardStop.unref();

const epoch = (): number => performance.timeOrigin + performance.now();

function udpSnmp(): Record<string, number> {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const names = lines[0].split(/\s+/).slice(1);
  const values = lines[1].split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(names.map((n, i) => [n, values[i]]));
}

async function blast(): Promise<void> {
  const target = params.target!;
  const payload = params.payload ?? 64;
  const memory = new Uint8Array(new SharedArrayBuffer(64 * 1024));
  for (let i = 0; i < payload; i++) memory[i] = i & 0xff;
  const socket = await openBatchedUdpSocket({ listen: params.listen, memory, backend: 'native', gso: params.gso, sendBufferBytes: SNDBUF });
  const batch = params.batch;
  const rows = new Uint32Array(batch * UDP_DESC_WORDS);
  const address = parseIpv4(target.address)!;
  let sent = 0;
  let refused = 0;
  const fillRows = (): void => {
    for (let i = 0; i < batch; i++) {
      const r = i * UDP_DESC_WORDS;
      rows[r + UdpTx.offset] = 0;
      rows[r + UdpTx.length] = payload;
      rows[r + UdpTx.address] = address;
      rows[r + UdpTx.port] = target.port;
    }
  };
  fillRows();
  const end = performance.now() + params.maxSeconds * 1000 - 200;
  const ticker = setInterval(() => console.log(`tick ${Math.round(epoch())} ${sent} ${refused}`), 100);
  console.log('ready');
  const burst = (): void => {
    const sliceEnd = performance.now() + 5;
    while (performance.now() < sliceEnd) {
      const n = socket.send(rows, batch);
      for (let i = 0; i < n; i++) {
        if (rows[i * UDP_DESC_WORDS + UdpTx.status] === 0) sent++;
        else refused++;
      }
      if (n < batch) {
        socket.onWritable(burst);
        return;
      }
    }
    if (performance.now() > end) {
      clearInterval(ticker);
      console.log(`tick ${Math.round(epoch())} ${sent} ${refused}`);
      void socket.close().then(() => process.exit(0));
      return;
    }
    setImmediate(burst);
  };
  burst();
}

/** A receive (or forward) path: starts counting into `counters`; returns the socket's extra state. */
interface Running {
  queueDrops(): number;
  receiveBufferBytes: number;
}

const counters = { received: 0, sent: 0, sendErrors: 0, receiveErrors: 0 };

async function startDgram(forward: boolean): Promise<Running> {
  const socket = createSocket({ type: 'udp4', recvBufferSize: RCVBUF, sendBufferSize: SNDBUF } as Parameters<typeof createSocket>[0]);
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(params.listen.port, params.listen.address, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  socket.on('error', () => counters.sendErrors++);
  if (forward) {
    const { address, port } = params.target!;
    socket.on('message', (msg) => {
      counters.received++;
      socket.send(msg, port, address);
      counters.sent++;
    });
  } else {
    socket.on('message', () => counters.received++);
  }
  return { queueDrops: () => 0, receiveBufferBytes: socket.getRecvBufferSize() };
}

async function startBatched(backend: 'native' | 'dgram', forward: boolean): Promise<Running> {
  const batch = params.batch;
  const memory = new Uint8Array(new SharedArrayBuffer(batch * SLOT));
  const socket: BatchedUdpSocket = await openBatchedUdpSocket({
    listen: params.listen,
    memory,
    backend,
    gso: params.gso,
    receiveBufferBytes: RCVBUF,
    sendBufferBytes: SNDBUF,
    queueCapacity: Math.max(4096, batch),
  });
  const rx = new Uint32Array(batch * UDP_DESC_WORDS);
  for (let i = 0; i < batch; i++) {
    rx[i * UDP_DESC_WORDS + UdpRx.offset] = i * SLOT;
    rx[i * UDP_DESC_WORDS + UdpRx.capacity] = SLOT;
  }
  if (!forward) {
    socket.onReadable(() => {
      let got = 0;
      while (got < PER_WAKE) {
        const n = socket.receive(rx, batch);
        if (n <= 0) {
          if (n < 0) counters.receiveErrors++;
          break;
        }
        got += n;
        if (n < batch) break;
      }
      counters.received += got;
    });
  } else {
    const sinkAddress = parseIpv4(params.target!.address)!;
    const sinkPort = params.target!.port;
    const tx = new Uint32Array(batch * UDP_DESC_WORDS);
    let pending = 0;
    let first = 0;
    /** Sends what is pending; true when all of it went. */
    const flush = (): boolean => {
      const rows = first === 0 ? tx : tx.subarray(first * UDP_DESC_WORDS);
      const consumed = socket.send(rows, pending);
      for (let i = 0; i < consumed; i++) {
        if (rows[i * UDP_DESC_WORDS + UdpTx.status] === 0) counters.sent++;
        else counters.sendErrors++;
      }
      first += consumed;
      pending -= consumed;
      return pending === 0;
    };
    const pump = (): void => {
      let moved = 0;
      while (moved < PER_WAKE) {
        const n = socket.receive(rx, batch);
        if (n <= 0) {
          if (n < 0) counters.receiveErrors++;
          break;
        }
        counters.received += n;
        moved += n;
        for (let i = 0; i < n; i++) {
          const r = i * UDP_DESC_WORDS;
          tx[r + UdpTx.offset] = rx[r + UdpRx.offset];
          tx[r + UdpTx.length] = rx[r + UdpRx.length];
          tx[r + UdpTx.address] = sinkAddress;
          tx[r + UdpTx.port] = sinkPort;
        }
        pending = n;
        first = 0;
        if (!flush()) {
          // Backpressure: stop receiving until the rest went out (the rows point into the rx slots).
          socket.onReadable(null);
          socket.onWritable(whenWritable);
          return;
        }
        if (n < batch) break;
      }
    };
    const whenWritable = (): void => {
      if (flush()) {
        socket.onReadable(pump);
        pump();
      } else {
        socket.onWritable(whenWritable);
      }
    };
    socket.onReadable(pump);
  }
  return { queueDrops: () => socket.queueDrops, receiveBufferBytes: socket.receiveBufferBytes };
}

async function measure(): Promise<void> {
  const forward = params.role === 'forward';
  const path = params.path ?? 'native';
  const running = path === 'dgram' ? await startDgram(forward) : await startBatched(path === 'native' ? 'native' : 'dgram', forward);
  console.log('ready');
  await new Promise((r) => setTimeout(r, params.warmupMs ?? 500));
  const c0 = { ...counters };
  const q0 = running.queueDrops();
  const snmp0 = udpSnmp();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const startedAt = epoch();
  console.log('window-start');
  await new Promise((r) => setTimeout(r, params.windowMs ?? 2000));
  const t1 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const snmp1 = udpSnmp();
  const endedAt = epoch();
  console.log('window-end');
  const udp: Record<string, number> = {};
  for (const k of Object.keys(snmp1)) udp[k] = snmp1[k] - (snmp0[k] ?? 0);
  const result: IoWorkerResult = {
    path,
    batch: params.batch,
    gso: params.gso,
    startedAt,
    endedAt,
    seconds: (t1 - t0) / 1000,
    received: counters.received - c0.received,
    sent: counters.sent - c0.sent,
    sendErrors: counters.sendErrors - c0.sendErrors,
    receiveErrors: counters.receiveErrors - c0.receiveErrors,
    queueDrops: running.queueDrops() - q0,
    userSeconds: cpu.user / 1e6,
    systemSeconds: cpu.system / 1e6,
    udp,
    receiveBufferBytes: running.receiveBufferBytes,
  };
  console.log(`result ${JSON.stringify(result)}`);
  process.exit(0);
}

if (params.role === 'blast') await blast();
else await measure();
