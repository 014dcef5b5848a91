// ws_chat_node.mjs - benchmark peer: Node's `ws` library doing what our
// /chat does: every text message from any client is broadcast to every
// connected client (the sender included). Started by bench/ws.sh.
//   usage: node ws_chat_node.mjs PORT
import { WebSocketServer } from 'ws';

const port = Number(process.argv[2]);
const wss = new WebSocketServer({ host: '127.0.0.1', port, path: '/chat', perMessageDeflate: false });

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    for (const client of wss.clients) client.send(data, { binary: false });
  });
  ws.on('error', () => {});
});
wss.on('listening', () => console.log(`ws chat peer on 127.0.0.1:${port}/chat`));
process.on('SIGTERM', () => process.exit(0));
