// ws_limits.test.mjs - input that is within the protocol limits but costly
// to handle: deeply nested JSON to /lobby (must not exhaust the
// connection thread's stack), and a /chat message larger than a
// member's outbox bound (must not get the other members closed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startServer, sleep } from './lib/server.mjs';

function open(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

// Resolves with the next message as a string (or rejects on close).
function nextMessage(ws) {
  return new Promise((resolve, reject) => {
    const onMessage = (d) => { ws.off('close', onClose); resolve(d.toString()); };
    const onClose = (code) => { ws.off('message', onMessage); reject(new Error(`closed with ${code}`)); };
    ws.once('message', onMessage);
    ws.once('close', onClose);
  });
}

function closed(ws) {
  return new Promise((resolve) => ws.once('close', (code) => resolve(code)));
}

test('/lobby: JSON nested 2,000 deep gets a bad_json error; connection and server keep working', { timeout: 30000 }, async () => {
  const srv = await startServer();
  try {
    const ws = await open(`ws://127.0.0.1:${srv.port}/lobby`);
    for (const deep of ['['.repeat(2000) + ']'.repeat(2000),
      '{"type":"echo","payload":' + '{"a":'.repeat(1000) + '1' + '}'.repeat(1000) + '}']) {
      ws.send(deep);
      const p = JSON.parse(await nextMessage(ws));
      assert.equal(p.type, 'error');
      assert.equal(p.payload.code, 'bad_json');
      assert.match(p.payload.message, /nest/);
    }
    // 32 levels are still fine, and brackets inside strings do not count.
    const ok = { type: 'echo', payload: [JSON.parse('['.repeat(30) + ']'.repeat(30)), '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\"['] };
    ws.send(JSON.stringify(ok));
    assert.deepEqual(JSON.parse(await nextMessage(ws)), ok);
    assert.equal(ws.readyState, WebSocket.OPEN);
    ws.close();

    // The server still serves new clients.
    const again = await open(`ws://127.0.0.1:${srv.port}/lobby`);
    again.send(JSON.stringify({ type: 'echo', payload: 'alive' }));
    assert.deepEqual(JSON.parse(await nextMessage(again)), { type: 'echo', payload: 'alive' });
    again.close();
  } finally {
    assert.equal(await srv.stop(), 0);
  }
});

test('/chat: a message bigger than the outbox bound closes only its sender (1009); the others stay', { timeout: 30000 }, async () => {
  const srv = await startServer();
  try {
    const url = `ws://127.0.0.1:${srv.port}/chat`;
    const [sender, ...others] = await Promise.all([1, 2, 3, 4].map(() => open(url)));
    await sleep(100); // every client has joined the group
    const otherCodes = others.map(() => null);
    others.forEach((ws, i) => ws.once('close', (code) => { otherCodes[i] = code; }));

    const senderClosed = closed(sender);
    sender.send('z'.repeat(1100 * 1000));
    assert.equal(await senderClosed, 1009);

    await sleep(200);
    assert.deepEqual(otherCodes, [null, null, null]);
    others.forEach((ws) => assert.equal(ws.readyState, WebSocket.OPEN));
    // ... and still chat with each other.
    const heard = others.map(nextMessage);
    others[0].send('still here');
    assert.deepEqual(await Promise.all(heard), ['still here', 'still here', 'still here']);
    others.forEach((ws) => ws.close());
  } finally {
    await srv.stop();
  }
});

test('/lobby: a say bigger than the outbox bound gets a too_big error; the room is untouched', { timeout: 30000 }, async () => {
  const srv = await startServer();
  try {
    const url = `ws://127.0.0.1:${srv.port}/lobby`;
    const [a, b] = await Promise.all([1, 2].map(() => open(url)));
    for (const ws of [a, b]) {
      const joined = nextMessage(ws);
      ws.send(JSON.stringify({ type: 'join', payload: { room: 'big' } }));
      assert.equal(JSON.parse(await joined).type, 'joined');
    }
    let bClosed = null;
    b.once('close', (code) => { bClosed = code; });
    const reply = nextMessage(a);
    a.send(JSON.stringify({ type: 'say', payload: { room: 'big', text: 'q'.repeat(1100 * 1000) } }));
    const p = JSON.parse(await reply);
    assert.equal(p.type, 'error');
    assert.equal(p.payload.code, 'too_big');
    const heard = nextMessage(b);
    a.send(JSON.stringify({ type: 'say', payload: { room: 'big', text: 'small' } }));
    assert.equal(JSON.parse(await heard).payload.text, 'small');
    assert.equal(bClosed, null);
    a.close();
    b.close();
  } finally {
    await srv.stop();
  }
});

test('/lobby: a client is in at most 16 rooms (too_many_rooms); room names are at most 57 bytes', { timeout: 30000 }, async () => {
  const srv = await startServer();
  try {
    const ws = await open(`ws://127.0.0.1:${srv.port}/lobby`);
    const ask = async (type, payload) => {
      const reply = nextMessage(ws);
      ws.send(JSON.stringify({ type, payload }));
      return JSON.parse(await reply);
    };
    for (let i = 0; i < 16; i++) assert.equal((await ask('join', { room: `r${i}` })).type, 'joined');
    const refused = await ask('join', { room: 'r16' });
    assert.equal(refused.type, 'error');
    assert.equal(refused.payload.code, 'too_many_rooms');
    assert.equal((await ask('join', { room: 'r0' })).type, 'joined'); // already in: fine
    assert.equal((await ask('leave', { room: 'r5' })).type, 'left');
    assert.deepEqual(await ask('join', { room: 'r16' }), { type: 'joined', payload: { room: 'r16', members: 1 } });

    assert.equal((await ask('leave', { room: 'r16' })).type, 'left');
    assert.equal((await ask('join', { room: 'n'.repeat(57) })).type, 'joined');
    const long = await ask('join', { room: 'n'.repeat(58) });
    assert.equal(long.payload.code, 'bad_payload');
    assert.match(long.payload.message, /1 to 57 bytes/);
    ws.close();
  } finally {
    await srv.stop();
  }
});
