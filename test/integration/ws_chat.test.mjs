// ws_chat.test.mjs - /chat broadcast with 1,000 `ws` clients and one
// client that never reads, and the typed JSON messages of /lobby.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import WebSocket from 'ws';
import { startServer, sleep, slowFactor } from './lib/server.mjs';

function open(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

async function until(cond, ms, what) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

// A client that completes the handshake and then never reads. It is a
// Python raw socket so it can also shrink its receive buffer; it starts
// reading (to see the server's close) only when told to on stdin.
const NON_READER = `
import socket, sys
port = int(sys.argv[1])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(('127.0.0.1', port))
s.sendall(('GET /chat HTTP/1.1\\r\\nHost: 127.0.0.1:%d\\r\\nUpgrade: websocket\\r\\n'
           'Connection: Upgrade\\r\\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\n'
           'Sec-WebSocket-Version: 13\\r\\n\\r\\n' % port).encode())
head = b''
while b'\\r\\n\\r\\n' not in head:
    head += s.recv(1)
print(head.split(b'\\r\\n')[0].decode(), flush=True)
sys.stdin.readline()
total = 0
try:
    while True:
        d = s.recv(65536)
        if not d:
            print('eof', total, flush=True)
            break
        total += len(d)
except ConnectionResetError:
    print('reset', total, flush=True)
`;

test('/chat: 1,000 clients get every message promptly while one client never reads; it is closed with 1008', { timeout: 120000 }, async () => {
  const srv = await startServer();
  const clients = [];
  const nonReader = spawn('python3', ['-c', NON_READER, String(srv.port)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let nrOut = '';
  nonReader.stdout.on('data', (d) => { nrOut += d; });
  try {
    await until(() => nrOut.includes('\n'), 5000, 'the non-reader handshake');
    assert.match(nrOut, /^HTTP\/1\.1 101 /);

    // Sanitizer builds look for races, not for load: 200 clients there.
    const total = slowFactor > 1 ? 200 : 1000;
    for (let i = 0; i < total; i += 100) {
      clients.push(...await Promise.all(Array.from({ length: 100 }, () => open(`ws://127.0.0.1:${srv.port}/chat`))));
    }
    // Each client records every message's delay (the message carries its send time).
    const stats = clients.map(() => ({ count: 0, hellos: 0, maxDelay: 0 }));
    clients.forEach((ws, i) => ws.on('message', (d) => {
      const head = d.toString('latin1', 0, 20);
      if (head.startsWith('hello')) { stats[i].hellos++; return; }
      const sentAt = Number(head.split(' ')[1]);
      stats[i].count++;
      stats[i].maxDelay = Math.max(stats[i].maxDelay, Date.now() - sentAt);
    }));
    // A client joins the chat group in on_open, just after its 101: say
    // hello until every client has heard one, so that all are in.
    const joinDeadline = Date.now() + 10000 * slowFactor;
    while (!stats.every((s) => s.hellos > 0)) {
      assert.ok(Date.now() < joinDeadline, 'every client joined the chat');
      clients[0].send(`hello ${Date.now()}`);
      await sleep(100);
    }

    stats.forEach((s) => { s.maxDelay = 0; });

    // Phase 1: 1,000 recipients, 200 small messages from several senders
    // at 100 messages/s (100,000 deliveries/s).
    for (let m = 0; m < 200; m++) {
      clients[m % 7].send(`m${m} ${Date.now()} ${'x'.repeat(100)}`);
      await sleep(10);
    }
    await until(() => stats.every((s) => s.count === 200), 30000, 'every delivery of phase 1');
    const worst = Math.max(...stats.map((s) => s.maxDelay));
    assert.ok(worst < 1000 * slowFactor, `slowest delivery took ${worst} ms`);

    // Phase 2: fewer readers, big messages: the non-reader's socket buffers
    // fill, then its outbox, then it is closed with 1008 - while the readers
    // get each message right away.
    for (const ws of clients.splice(10)) ws.terminate();
    stats.length = 10;
    stats.forEach((s) => { s.count = 0; s.maxDelay = 0; });
    const big = 'y'.repeat(64 * 1024);
    let sent = 0;
    while (!/closing with 1008/.test(srv.errorLog()) && sent < 400) {
      clients[0].send(`m ${Date.now()} ${big}`);
      sent++;
      await until(() => stats.every((s) => s.count === sent), 5000, `message ${sent} to reach every reader`);
    }
    assert.match(srv.errorLog(), /WARN \[conn \d+\] websocket outbox over \d+ bytes \(client not reading\): closing with 1008/);
    const worst2 = Math.max(...stats.map((s) => s.maxDelay));
    assert.ok(worst2 < 1000 * slowFactor, `slowest delivery with a stuck client took ${worst2} ms`);

    // The stuck client's connection is really gone: reading now ends in EOF.
    nonReader.stdin.write('read\n');
    await until(() => /(eof|reset) \d+/.test(nrOut), 15000, 'the non-reader to see its connection closed');

    // The readers are unaffected.
    clients[1].send(`after ${Date.now()}`);
    await until(() => stats.every((s) => s.count === sent + 1), 5000, 'a message after the close');
  } finally {
    for (const ws of clients) ws.terminate();
    nonReader.kill();
    await srv.stop();
  }
});

test('/chat closes a binary message sender with 1003', async () => {
  const srv = await startServer();
  try {
    const ws = await open(`ws://127.0.0.1:${srv.port}/chat`);
    ws.send(Buffer.from([1, 2, 3]));
    const code = await new Promise((resolve) => ws.once('close', resolve));
    assert.equal(code, 1003);
  } finally {
    await srv.stop();
  }
});

// ---- /lobby: typed JSON messages over rooms ----

function packets(ws) {
  const queue = [], waiters = [];
  ws.on('message', (d) => {
    const p = JSON.parse(d.toString());
    if (waiters.length) waiters.shift()(p); else queue.push(p);
  });
  return () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiters.push(r)));
}

test('/lobby: typed packets reach their handlers; rooms broadcast to members only', async () => {
  const srv = await startServer();
  try {
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => open(`ws://127.0.0.1:${srv.port}/lobby`)));
    const [na, nb, nc] = [a, b, c].map(packets);
    a.send(JSON.stringify({ type: 'join', payload: { room: 'r1' } }));
    assert.deepEqual(await na(), { type: 'joined', payload: { room: 'r1', members: 1 } });
    b.send(JSON.stringify({ type: 'join', payload: { room: 'r1' } }));
    assert.deepEqual(await nb(), { type: 'joined', payload: { room: 'r1', members: 2 } });
    c.send(JSON.stringify({ type: 'join', payload: { room: 'r2' } }));
    await nc();

    a.send(JSON.stringify({ type: 'say', payload: { room: 'r1', text: 'hi all' } }));
    for (const next of [na, nb]) {
      const p = await next();
      assert.equal(p.type, 'said');
      assert.equal(p.payload.text, 'hi all');
      assert.equal(p.payload.room, 'r1');
    }
    c.send(JSON.stringify({ type: 'echo', payload: [1, 'two'] }));
    assert.deepEqual(await nc(), { type: 'echo', payload: [1, 'two'] }); // c heard nothing from r1

    c.send(JSON.stringify({ type: 'say', payload: { room: 'r1', text: 'sneaky' } }));
    assert.equal((await nc()).payload.code, 'not_member');
    b.send(JSON.stringify({ type: 'leave', payload: { room: 'r1' } }));
    assert.deepEqual(await nb(), { type: 'left', payload: { room: 'r1' } });
    a.close();
    b.close();
    c.close();
  } finally {
    await srv.stop();
  }
});

test('/lobby: bad packets get an error message and the connection stays usable', async () => {
  const srv = await startServer();
  try {
    const ws = await open(`ws://127.0.0.1:${srv.port}/lobby`);
    const next = packets(ws);
    const cases = [
      ['{not json', 'bad_json'],
      ['[1,2,3]', 'not_object'],
      ['{"payload":{}}', 'no_type'],
      ['{"type":42}', 'no_type'],
      ['{"type":"fly","payload":{}}', 'unknown_type'],
      ['{"type":"join","payload":{}}', 'bad_payload'],
      ['{"type":"join","payload":"not an object"}', 'bad_payload'],
    ];
    for (const [text, code] of cases) {
      ws.send(text);
      const p = await next();
      assert.equal(p.type, 'error', text);
      assert.equal(p.payload.code, code, text);
      assert.equal(typeof p.payload.message, 'string');
    }
    ws.send(Buffer.from('{}'));
    assert.equal((await next()).type, 'error');
    ws.send(JSON.stringify({ type: 'echo', payload: 'still here' }));
    assert.deepEqual(await next(), { type: 'echo', payload: 'still here' });
    assert.equal(ws.readyState, WebSocket.OPEN);
    ws.close();
  } finally {
    await srv.stop();
  }
});
