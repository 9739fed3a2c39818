/**
 * A web backend for network labs: a plain Node HTTP/1.1 server (keep-alive) that answers
 * every request with a small JSON body naming itself and the peer it saw, so a test can
 * tell which backend served a request and which source address reached it.
 *
 * Run inside a lab namespace (`WebLab` does): `node --import tsx http-backend.ts <name> <port>`.
 * It listens on every address of the namespace, IPv4 and IPv6 on two sockets (so an IPv4
 * peer reads as `198.18.3.2`, not `::ffff:198.18.3.2`), and prints `listening <name> <port>`.
 *
 * ```json
 * {"backend":"backend-1","from":"198.18.3.1","port":40312,"path":"/"}
 * ```
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ListenOptions } from 'node:net';

const [name = 'backend', portText = '8080'] = process.argv.slice(2);
const port = Number(portText);

const answer = (req: IncomingMessage, res: ServerResponse) => {
  const body = JSON.stringify({ backend: name, from: req.socket.remoteAddress, port: req.socket.remotePort, path: req.url });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
};
const servers = [createServer(answer), createServer(answer)];
for (const server of servers) {
  // Benchmarks pause between phases; an idle keep-alive connection should outlive the pause.
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 61_000;
}
const listen = (server: Server, options: ListenOptions) =>
  new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options, () => resolve());
  });
await listen(servers[0], { port, host: '0.0.0.0' });
await listen(servers[1], { port, host: '::', ipv6Only: true });
console.log(`listening ${name} ${port}`);
process.on('SIGTERM', () => {
  let open = servers.length;
  for (const server of servers) {
    server.closeAllConnections();
    server.close(() => {
      if (--open === 0) process.exit(0);
    });
  }
});
