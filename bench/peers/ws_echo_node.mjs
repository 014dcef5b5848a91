// ws_echo_node.mjs - benchmark peer: Node's `ws` library echoing every
// message on /echo, the job our /echo does. Started by bench/ws.sh, pinned
// to one core like our server.
//   usage: node ws_echo_node.mjs PORT
import { WebSocketServer } from 'ws';

const port = Number(process.argv[2]);
const wss = new WebSocketServer({ host: '127.0.0.1', port, path: '/echo', perMessageDeflate: false });

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
wss.on('listening', () => console.log(`ws echo peer on 127.0.0.1:${port}/echo`));
process.on('SIGTERM', () => process.exit(0));
