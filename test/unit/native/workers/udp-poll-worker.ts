// Opens a native UDP socket on `port` over the shared `sab`, drains it from onReadable, and
// reports. mode 'exit': calls process.exit from inside the readiness callback once `exitAfter`
// datagrams arrived; mode 'close-exit': the same right after udpClose (libuv still closing the
// poll handle when the thread tears down); mode 'terminate': keeps receiving until the parent terminates it.
import { parentPort, workerData } from 'node:worker_threads';
import { openBatchedUdpSocket } from '../../../../src/io/batched-udp-socket.ts';
import { UDP_DESC_WORDS, UdpRx } from '../../../../src/io/udp-descriptor.ts';

const { sab, port, mode, exitAfter } = workerData as { sab: SharedArrayBuffer; port: number; mode: 'exit' | 'close-exit' | 'terminate'; exitAfter: number };
const memory = new Uint8Array(sab);
const socket = await openBatchedUdpSocket({ listen: { address: '127.0.0.1', port }, memory, backend: 'native' });
const rows = new Uint32Array(64 * UDP_DESC_WORDS);
for (let i = 0; i < 64; i++) {
  rows[i * UDP_DESC_WORDS + UdpRx.offset] = i * 2048;
  rows[i * UDP_DESC_WORDS + UdpRx.capacity] = 2048;
}
let received = 0;
let reported = false;
socket.onReadable(() => {
  let n: number;
  while ((n = socket.receive(rows, 64)) > 0) received += n;
  if (!reported) {
    reported = true;
    parentPort?.postMessage({ receiving: true });
  }
  if (mode !== 'terminate' && received >= exitAfter) {
    if (mode === 'close-exit') void socket.close();
    process.exit(7);
  }
});
parentPort?.postMessage({ port: socket.localPort });
