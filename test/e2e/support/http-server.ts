import { createServer } from 'node:http';

const [host, portText] = process.argv.slice(2);
const server = createServer((req, res) => {
  const body = JSON.stringify({ path: req.url, from: req.socket.remoteAddress });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.listen(Number(portText), host, () => console.log(`listening ${host}:${portText}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
