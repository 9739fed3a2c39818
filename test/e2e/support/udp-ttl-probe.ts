import { createSocket } from 'node:dgram';

const [host, portText, ttlText] = process.argv.slice(2);
const socket = createSocket('udp4');
socket.bind(0, () => {
  socket.setTTL(Number(ttlText ?? 1));
  socket.send('ttl probe', Number(portText), host, (err) => {
    if (err) console.error(err.message);
    socket.close();
    console.log('sent');
  });
});
