// ws_echo.test.mjs - the /echo WebSocket endpoint against the npm `ws`
// client (a client we did not write), raw sockets for what `ws` will not
// send, and tools/wsclient.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { spawn } from 'node:child_process';
import WebSocket from 'ws';
import { startServer, rawRequest, repoRoot, sleep } from './lib/server.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv.stop(); });

const wsUrl = (s, p = '/echo') => `ws://127.0.0.1:${s.port}${p}`;

function open(url, opts) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { res })));
  });
}

const nextMessage = (ws) => new Promise((resolve) => ws.once('message', (data, isBinary) => resolve({ data, isBinary })));
const closed = (ws) => new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));

test('echoes text and binary messages from 0 B to 16 MiB', async () => {
  const ws = await open(wsUrl(srv));
  for (const size of [0, 1, 125, 126, 127, 65535, 65536, 1 << 20, 16 << 20]) {
    const bin = crypto.randomBytes(size);
    ws.send(bin);
    const b = await nextMessage(ws);
    assert.equal(b.isBinary, true);
    assert.equal(b.data.length, size);
    assert.ok(b.data.equals(bin), `binary ${size}`);

    const text = 'é'.repeat(size >> 1) + (size & 1 ? 'a' : '');
    ws.send(text);
    const t = await nextMessage(ws);
    assert.equal(t.isBinary, false);
    assert.equal(t.data.toString('utf8'), text, `text ${size}`);
  }
  ws.close(1000);
  assert.equal((await closed(ws)).code, 1000);
});

test('many small messages in flight come back in order', async () => {
  const ws = await open(wsUrl(srv));
  const n = 5000, got = [];
  const done = new Promise((resolve) => ws.on('message', (d) => { got.push(d.toString()); if (got.length === n) resolve(); }));
  for (let i = 0; i < n; i++) ws.send(`m${i}`);
  await done;
  assert.deepEqual(got, Array.from({ length: n }, (_, i) => `m${i}`));
  ws.close();
});

test('a fragmented message is echoed whole', async () => {
  const ws = await open(wsUrl(srv));
  ws.send('Hel', { fin: false });
  ws.ping('between fragments');
  ws.send('lo, ', { fin: false });
  ws.send('world', { fin: true });
  const m = await nextMessage(ws);
  assert.equal(m.data.toString(), 'Hello, world');
  ws.send(Buffer.from([1, 2]), { binary: true, fin: false });
  ws.send(Buffer.from([3]), { binary: true, fin: true });
  const b = await nextMessage(ws);
  assert.deepEqual([...b.data], [1, 2, 3]);
  ws.close();
});

test('ping is answered with a pong carrying the same payload', async () => {
  const ws = await open(wsUrl(srv));
  ws.ping('are you there?');
  const payload = await new Promise((resolve) => ws.once('pong', resolve));
  assert.equal(payload.toString(), 'are you there?');
  ws.close();
});

test('the close code is echoed in the closing handshake', async () => {
  for (const [code, reason] of [[1000, ''], [1001, 'going'], [3000, 'app'], [4999, 'é']]) {
    const ws = await open(wsUrl(srv));
    ws.close(code, reason);
    assert.equal((await closed(ws)).code, code);
  }
  const ws = await open(wsUrl(srv));
  ws.close(); // no status code: the server replies with an empty close
  assert.equal((await closed(ws)).code, 1005);
});

test('invalid UTF-8 in a text message closes with 1007', async () => {
  const ws = await open(wsUrl(srv));
  ws.send(Buffer.from([0x68, 0xc3, 0x28]), { binary: false });
  assert.equal((await closed(ws)).code, 1007);
});

// A raw client frame: masked unless told otherwise.
function clientFrame(opcode, payload, { fin = true, mask = true } = {}) {
  const len = payload.length;
  const head = [(fin ? 0x80 : 0) | opcode];
  if (len < 126) head.push((mask ? 0x80 : 0) | len);
  else { head.push((mask ? 0x80 : 0) | 126, len >> 8, len & 0xff); }
  const key = crypto.randomBytes(4);
  const body = Buffer.from(payload);
  if (mask) for (let i = 0; i < body.length; i++) body[i] ^= key[i % 4];
  return Buffer.concat([Buffer.from(head), mask ? key : Buffer.alloc(0), body]);
}

function handshake(port, { pathname = '/echo', headers = {} } = {}) {
  const key = crypto.randomBytes(16).toString('base64');
  const h = {
    Host: `127.0.0.1:${port}`, Upgrade: 'websocket', Connection: 'Upgrade',
    'Sec-WebSocket-Key': key, 'Sec-WebSocket-Version': '13', ...headers,
  };
  const lines = Object.entries(h).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}: ${v}`);
  return { key, text: `GET ${pathname} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n` };
}

const acceptFor = (key) => crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');

// The close code in the first close frame of a raw server byte stream.
function closeCodeIn(bytes) {
  const buf = Buffer.from(bytes, 'latin1');
  const end = buf.indexOf('\r\n\r\n') + 4;
  for (let i = end; i + 1 < buf.length;) {
    const op = buf[i] & 0x0f, len = buf[i + 1] & 0x7f; // server frames are short here
    if (op === 8) return len >= 2 ? buf.readUInt16BE(i + 2) : 1005;
    i += 2 + len;
  }
  return null;
}

test('an unmasked client frame fails the connection with 1002', async () => {
  const hs = handshake(srv.port);
  const out = await rawRequest(srv.port, [hs.text, clientFrame(1, Buffer.from('hi'), { mask: false })], { delayMs: 100 });
  assert.match(out, /^HTTP\/1\.1 101 /);
  assert.equal(closeCodeIn(out), 1002);
});

test('a message over --ws-max-message closes with 1009', async () => {
  const small = await startServer({ args: ['--ws-max-message', '1024'] });
  try {
    const ws = await open(wsUrl(small));
    ws.send(Buffer.alloc(1024, 1));
    assert.equal((await nextMessage(ws)).data.length, 1024);
    ws.send(Buffer.alloc(1025, 1));
    assert.equal((await closed(ws)).code, 1009);
  } finally {
    await small.stop();
  }
});

test('a browser-style handshake (Connection: keep-alive, Upgrade; same-host Origin) is accepted', async () => {
  const hs = handshake(srv.port, {
    headers: {
      Connection: 'keep-alive, Upgrade', Upgrade: 'WebSocket', Origin: `http://127.0.0.1:${srv.port}`,
      'User-Agent': 'Mozilla/5.0', 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits',
    },
  });
  const out = await rawRequest(srv.port, [hs.text, clientFrame(1, Buffer.from('hey'))], { delayMs: 100, idleMs: 300 });
  const head = out.slice(0, out.indexOf('\r\n\r\n'));
  assert.match(head, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  assert.match(head, /\r\nUpgrade: websocket/i);
  assert.match(head, /\r\nConnection: Upgrade/i);
  assert.ok(head.includes(`Sec-WebSocket-Accept: ${acceptFor(hs.key)}`), head);
  assert.doesNotMatch(head, /Sec-WebSocket-Extensions|Content-Length/i); // no extension accepted
  const echoed = Buffer.from(out.slice(head.length + 4), 'latin1');
  assert.deepEqual([...echoed.subarray(0, 5)], [0x81, 3, 0x68, 0x65, 0x79]);
});

test('wrong Sec-WebSocket-Version gets 426 with Sec-WebSocket-Version: 13', async () => {
  const out = await rawRequest(srv.port, handshake(srv.port, { headers: { 'Sec-WebSocket-Version': '8' } }).text);
  assert.match(out, /^HTTP\/1\.1 426 /);
  assert.match(out, /\r\nSec-WebSocket-Version: 13\r\n/i);
});

test('a plain GET of a WebSocket endpoint gets 426, a bad key 400, POST 405', async () => {
  let out = await rawRequest(srv.port, `GET /echo HTTP/1.1\r\nHost: x\r\n\r\n`);
  assert.match(out, /^HTTP\/1\.1 426 /);
  assert.match(out, /\r\nUpgrade: websocket\r\n/i);
  out = await rawRequest(srv.port, handshake(srv.port, { headers: { 'Sec-WebSocket-Key': 'c2hvcnQ=' } }).text);
  assert.match(out, /^HTTP\/1\.1 400 /);
  out = await rawRequest(srv.port, handshake(srv.port, { headers: { 'Sec-WebSocket-Key': undefined } }).text);
  assert.match(out, /^HTTP\/1\.1 400 /);
  out = await rawRequest(srv.port, `POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n`);
  assert.match(out, /^HTTP\/1\.1 405 /);
  assert.match(out, /\r\nAllow: GET\r\n/i);
});

test('a page on another site is refused with 403 (default: same host)', async () => {
  await assert.rejects(open(wsUrl(srv), { origin: 'http://evil.example' }), (e) => e.res?.statusCode === 403);
  await assert.rejects(open(wsUrl(srv), { origin: `http://127.0.0.1:${srv.port + 1}` }), (e) => e.res?.statusCode === 403);
  assert.match(srv.errorLog(), /origin http:\/\/evil\.example refused/);
  const ok = await open(wsUrl(srv), { origin: `http://127.0.0.1:${srv.port}` });
  ok.close();
  const noOrigin = await open(wsUrl(srv)); // not a browser: allowed
  noOrigin.close();
});

test('--allowed-origins lists the sites that may connect', async () => {
  const s = await startServer({ args: ['--allowed-origins', 'https://game.example, http://localhost:3000'] });
  try {
    (await open(wsUrl(s), { origin: 'http://localhost:3000' })).close();
    (await open(wsUrl(s), { origin: 'https://GAME.example' })).close();
    await assert.rejects(open(wsUrl(s), { origin: `http://127.0.0.1:${s.port}` }), (e) => e.res?.statusCode === 403);
  } finally {
    await s.stop();
  }
});

test('an idle connection is pinged, and a silent peer is dropped', async () => {
  const s = await startServer({ args: ['--ws-ping-interval', '0.3', '--ws-dead-peer-timeout', '1'] });
  try {
    const ws = await open(wsUrl(s));
    await new Promise((resolve) => ws.once('ping', resolve)); // ws answers with a pong itself
    await sleep(1500);
    assert.equal(ws.readyState, WebSocket.OPEN, 'a peer that answers pings stays');
    ws.close();

    // A raw peer that never answers is closed after the dead-peer timeout.
    const t0 = Date.now();
    const out = await rawRequest(s.port, handshake(s.port).text, { idleMs: 8000 });
    assert.equal(closeCodeIn(out), 1001);
    assert.ok(Date.now() - t0 < 6000);
  } finally {
    await s.stop();
  }
});

test('server shutdown closes WebSocket clients with 1001', async () => {
  const s = await startServer();
  const ws = await open(wsUrl(s));
  const c = closed(ws);
  const code = await s.stop();
  assert.equal((await c).code, 1001);
  assert.equal(code, 0);
});

test('tools/wsclient sends stdin lines and prints replies and the close code', async () => {
  const bin = path.join(repoRoot, 'tools/wsclient');
  const run = (args, input) => new Promise((resolve) => {
    const p = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('close', (code) => resolve({ code, out, err }));
    p.stdin.end(input);
  });
  let r = await run([wsUrl(srv)], 'hello\nsecond line\n');
  assert.equal(r.out, 'hello\nsecond line\n' + 'closed 1000\n');
  assert.equal(r.code, 0, r.err);
  r = await run(['--type', 'echo', wsUrl(srv, '/lobby')], '{"x":1}\nplain words\n');
  assert.equal(r.out, '{"type":"echo","payload":{"x":1}}\n{"type":"echo","payload":"plain words"}\nclosed 1000\n');
  r = await run([`ws://127.0.0.1:${srv.port}/nope`], '');
  assert.notEqual(r.code, 0);
  assert.match(r.err, /404/);
});
