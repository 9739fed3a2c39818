/**
 * A web backend for network labs: a plain Node HTTP/1.1 server (keep-alive) that answers
 * every request with a small JSON body naming itself and the peer it saw, so a test can
 * tell which backend served a request and which source address reached it.
 *
 * Run inside a lab namespace (`WebLab` does): `node --import tsx http-backend.ts <name> <port>`.
 * It listens on every address of the namespace and prints `listening <name> <port>`.
 *
 * ```json
 * {"backend":"backend-1","from":"198.18.3.1","port":40312,"path":"/"}
 * ```
 */
import { createServer } from 'node:http';

const [name = 'backend', portText = '8080'] = process.argv.slice(2);
const port = Number(portText);

const server = createServer((req, res) => {
  const body = JSON.stringify({ backend: name, from: req.socket.remoteAddress, port: req.socket.remotePort, path: req.url });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
// Benchmarks pause between phases; an idle keep-alive connection should outlive the pause.
server.keepAliveTimeout = 60_000;
server.headersTimeout = 61_000;
server.listen(port, '0.0.0.0', () => console.log(`listening ${name} ${port}`));
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
