// clients.mjs - the kinds of client the soak test runs, good and bad.
//
// Each scenario is an async function (port, ctx) that opens one
// connection, does its thing and resolves to { bytesIn, bytesOut }; it
// throws when the server did something a user would call a bug (a wrong
// status, a missing echo, a hang). "Bad" clients (malformed bytes,
// half-open, reset, stalled) only require the server to answer with an
// error or close within a bound: what matters is that it survives them
// and that they leave nothing behind, which soak.mjs checks at the end.
//
// Valid WebSocket traffic uses the `ws` library (a client we did not
// write); everything byte-level uses raw sockets.
import net from 'node:net';
import crypto from 'node:crypto';
import WebSocket from 'ws';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pick = (list) => list[Math.floor(Math.random() * list.length)];

// ---- raw socket helpers ---------------------------------------------------

// Opens a raw connection; the returned object collects what arrives and
// can wait for a predicate on it or for the server to close.
function rawConnect(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const conn = { sock, data: Buffer.alloc(0), closed: false, bytesOut: 0, waiters: [] };
    const wake = () => { for (const w of conn.waiters.splice(0)) w(); };
    sock.on('data', (d) => { conn.data = Buffer.concat([conn.data, d]); wake(); });
    sock.on('close', () => { conn.closed = true; wake(); });
    sock.on('error', () => {}); // a reset from the server shows up as close
    sock.once('connect', () => resolve(conn));
    sock.once('error', reject);
  });
}

function rawWrite(conn, bytes) {
  conn.bytesOut += bytes.length;
  if (!conn.sock.destroyed) conn.sock.write(bytes);
}

// Waits until pred(conn) is true; throws after ms.
async function rawWait(conn, pred, ms, what) {
  const deadline = Date.now() + ms;
  while (!pred(conn)) {
    const left = deadline - Date.now();
    if (left <= 0) {
      conn.sock.destroy(); // a failed client must not hold the server
      throw new Error(`timeout waiting for ${what}`);
    }
    await new Promise((r) => {
      const t = setTimeout(r, left);
      conn.waiters.push(() => { clearTimeout(t); r(); });
    });
  }
}

// Parses complete HTTP responses (Content-Length framed, or up to close)
// from the start of buf. Returns [{ status, headers, body }], rest.
function parseResponses(buf, closed) {
  const out = [];
  for (;;) {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) break;
    const head = buf.subarray(0, end).toString('latin1').split('\r\n');
    const status = Number(head[0].split(' ')[1]);
    const headers = {};
    for (const line of head.slice(1)) {
      const i = line.indexOf(':');
      headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
    }
    const len = headers['content-length'] !== undefined ? Number(headers['content-length']) : null;
    const noBody = headers['x-soak-head'] || status === 304 || status === 204;
    const bodyLen = noBody ? 0 : len ?? (closed ? buf.length - end - 4 : -1);
    if (bodyLen < 0 || buf.length < end + 4 + bodyLen) break;
    out.push({ status, headers, body: buf.subarray(end + 4, end + 4 + bodyLen) });
    buf = buf.subarray(end + 4 + bodyLen);
  }
  return [out, buf];
}

// Sends a request with Connection: close and returns the one response.
async function httpOnce(port, request, timeoutMs = 15000) {
  const c = await rawConnect(port);
  rawWrite(c, Buffer.from(request));
  await rawWait(c, (x) => x.closed, timeoutMs, 'the server to close after the response');
  const [responses] = parseResponses(c.data, true);
  if (responses.length !== 1) throw new Error(`expected one response, got ${c.data.length} bytes`);
  return { res: responses[0], bytesIn: c.data.length, bytesOut: c.bytesOut };
}

const get = (path, extra = '') =>
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}Connection: close\r\n\r\n`;

// ---- valid HTTP -------------------------------------------------------------

// Three keep-alive requests for a static file on one connection.
export async function staticKeepAlive(port, ctx) {
  const c = await rawConnect(port);
  const req = 'GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
  rawWrite(c, Buffer.from(req.repeat(3)));
  let got = [];
  await rawWait(c, (x) => { [got] = parseResponses(x.data, false); return got.length >= 3 || x.closed; },
    15000, 'three keep-alive responses');
  c.sock.destroy();
  if (got.length !== 3) throw new Error(`static: ${got.length} of 3 responses`);
  for (const r of got) {
    if (r.status !== 200 || r.body.length !== ctx.indexSize)
      throw new Error(`static: status ${r.status}, ${r.body.length} bytes`);
  }
  return { bytesIn: c.data.length, bytesOut: c.bytesOut };
}

// The hello route module (cgi-bin/hello.so).
export async function routeModule(port) {
  const n = crypto.randomInt(1e9);
  const r = await httpOnce(port, get(`/hello?n=${n}`));
  if (r.res.status !== 200 || !r.res.body.toString().includes('hello'))
    throw new Error(`/hello: status ${r.res.status}`);
  return r;
}

// The CGI script (cgi-bin/env.sh); at most ctx.cgiSlots run at once,
// since each one forks processes.
export async function cgiScript(port, ctx) {
  while (ctx.cgiRunning >= ctx.cgiSlots) await sleep(20);
  ctx.cgiRunning++;
  try {
    const r = await httpOnce(port, get('/env/soak?x=1'));
    if (r.res.status !== 200 || !r.res.body.toString().includes('GATEWAY_INTERFACE=CGI/1.1'))
      throw new Error(`/env: status ${r.res.status}`);
    return r;
  } finally {
    ctx.cgiRunning--;
  }
}

// ---- valid WebSocket ----------------------------------------------------------

function wsOpen(port, path) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
    const t = setTimeout(() => { ws.terminate(); reject(new Error(`${path}: open timeout`)); }, 15000);
    ws.once('open', () => { clearTimeout(t); resolve(ws); });
    ws.once('error', (e) => { clearTimeout(t); reject(e); });
    ws.once('unexpected-response', (q, res) => { clearTimeout(t); reject(new Error(`${path}: HTTP ${res.statusCode}`)); });
  });
}

// Resolves with the next message for which pred is true.
function wsNext(ws, pred, what) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      done();
      ws.terminate(); // a failed client must not hold the server
      reject(new Error(`timeout waiting for ${what}`));
    }, 15000);
    const onMsg = (data, isBinary) => { if (pred(data, isBinary)) { done(); resolve(data); } };
    const onClose = (code) => { done(); reject(new Error(`closed (${code}) waiting for ${what}`)); };
    const done = () => { clearTimeout(t); ws.off('message', onMsg); ws.off('close', onClose); };
    ws.on('message', onMsg);
    ws.on('close', onClose);
  });
}

function wsClose(ws) {
  return new Promise((resolve) => {
    const t = setTimeout(() => { ws.terminate(); resolve(); }, 5000);
    ws.once('close', () => { clearTimeout(t); resolve(); });
    ws.close(1000, 'bye');
  });
}

// Text and binary messages of random sizes on /echo, each echoed intact.
export async function wsEcho(port) {
  const ws = await wsOpen(port, '/echo');
  let bytes = 0;
  for (let i = 0; i < 5; i++) {
    const binary = Math.random() < 0.5;
    const size = pick([0, 1, 125, 126, 1000, 65535, 65536, 200000]);
    const msg = binary ? crypto.randomBytes(size) : 'é'.repeat(size >> 1) + 'x'.repeat(size & 1);
    const echoed = wsNext(ws, () => true, 'an echo');
    ws.send(msg, { binary });
    const got = await echoed;
    if (!Buffer.from(got).equals(Buffer.from(msg))) throw new Error(`/echo: message ${i} differs`);
    bytes += got.length;
  }
  await wsClose(ws);
  return { bytesIn: bytes, bytesOut: bytes };
}

// A /chat message reaches its sender (the chat broadcasts to everyone).
export async function wsChat(port) {
  const ws = await wsOpen(port, '/chat');
  const text = `soak ${crypto.randomUUID()}`;
  const back = wsNext(ws, (d) => d.toString().includes(text), 'own chat message');
  ws.send(JSON.stringify({ type: 'say', payload: { text } }));
  await back;
  await wsClose(ws);
  return { bytesIn: text.length, bytesOut: text.length };
}

// ---- bad clients ----------------------------------------------------------------

const malformedRequests = [
  'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n',
  'GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET / HTTP/9.9\r\nHost: x\r\n\r\n',
  'BREW / HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET / HTTP/1.1\r\n folded: header\r\n\r\n',
  'POST /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
  `GET /${'a'.repeat(9000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
  `GET / HTTP/1.1\r\nHost: x\r\n${'X-Big: y\r\n'.repeat(2000)}\r\n`,
  'GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
  '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03', // a TLS ClientHello start
];

// Malformed requests and random bytes: an error status or a close, soon.
export async function malformedHttp(port) {
  const c = await rawConnect(port);
  const bytes = Math.random() < 0.3 ? crypto.randomBytes(crypto.randomInt(1, 4096))
    : Buffer.from(pick(malformedRequests), 'latin1');
  rawWrite(c, bytes);
  if (Math.random() < 0.5) c.sock.end(); // and half-close, sometimes
  await rawWait(c, (x) => x.closed, 10000, 'the server to close a malformed request');
  const status = Number(c.data.subarray(0, 12).toString('latin1').split(' ')[1]);
  if (c.data.length > 0 && !(status >= 400))
    throw new Error(`malformed request answered ${status}`);
  return { bytesIn: c.data.length, bytesOut: c.bytesOut };
}

function rawHandshake(path) {
  const key = crypto.randomBytes(16).toString('base64');
  return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
}

// A masked client frame (or an unmasked one when mask is false).
function frame(opcode, payload, { fin = true, mask = true, rsv = 0 } = {}) {
  const len = payload.length;
  const head = [(fin ? 0x80 : 0) | (rsv << 4) | opcode];
  const m = mask ? 0x80 : 0;
  let ext = Buffer.alloc(0);
  if (len < 126) head.push(m | len);
  else if (len < 65536) { head.push(m | 126); ext = Buffer.alloc(2); ext.writeUInt16BE(len); }
  else { head.push(m | 127); ext = Buffer.alloc(8); ext.writeBigUInt64BE(BigInt(len)); }
  if (!mask) return Buffer.concat([Buffer.from(head), ext, payload]);
  const key = crypto.randomBytes(4);
  const body = Buffer.from(payload.map((b, i) => b ^ key[i & 3]));
  return Buffer.concat([Buffer.from(head), ext, key, body]);
}

const badFrames = [
  () => frame(1, Buffer.from('unmasked'), { mask: false }),        // 1002
  () => frame(1, Buffer.from([0xed, 0xa0, 0x80])),                 // 1007
  () => frame(3, Buffer.from('reserved opcode')),                  // 1002
  () => frame(1, Buffer.from('rsv'), { rsv: 4 }),                  // 1002
  () => frame(9, Buffer.alloc(126)),                               // 1002
  () => frame(0, Buffer.from('stray continuation')),               // 1002
  () => frame(8, Buffer.from([0x03, 0xe7])),                       // code 999: 1002
  () => crypto.randomBytes(crypto.randomInt(1, 300)),              // noise
];

// A WebSocket handshake, then bytes that break RFC 6455: the server must
// close the connection (after a close frame, for a framing error).
export async function malformedWs(port) {
  const c = await rawConnect(port);
  rawWrite(c, Buffer.from(rawHandshake(pick(['/echo', '/chat']))));
  await rawWait(c, (x) => x.data.includes('\r\n\r\n') || x.closed, 10000, 'the 101 response');
  if (!c.data.toString('latin1').startsWith('HTTP/1.1 101')) throw new Error('no 101 for a valid handshake');
  const bad = pick(badFrames);
  rawWrite(c, bad());
  // Random noise may be the valid start of a long frame: the server
  // rightly waits for the rest, so the client also closes its side.
  if (bad === badFrames[badFrames.length - 1]) c.sock.end();
  await rawWait(c, (x) => x.closed, 10000, 'the server to close a bad WebSocket stream');
  return { bytesIn: c.data.length, bytesOut: c.bytesOut };
}

// Connections that stop half way: a partial head then FIN (the server
// sees EOF mid-request), or nothing at all until the header timeout.
export async function halfOpen(port, ctx) {
  const c = await rawConnect(port);
  const partial = Math.random() < 0.7;
  if (partial) {
    rawWrite(c, Buffer.from('GET /index.html HT'));
    c.sock.end();
  }
  const bound = partial ? 10000 : ctx.headerTimeoutMs + 10000;
  await rawWait(c, (x) => x.closed, bound, 'the server to drop a half-open connection');
  return { bytesIn: c.data.length, bytesOut: c.bytesOut };
}

// Connections reset by the client (RST: SO_LINGER 0) in the middle of a
// response, of a request head, or of a WebSocket frame.
export async function abruptReset(port) {
  const c = await rawConnect(port);
  const how = crypto.randomInt(3);
  if (how === 0) {
    rawWrite(c, Buffer.from(get('/big.bin')));
    await rawWait(c, (x) => x.data.length > 0 || x.closed, 10000, 'the first response bytes');
  } else if (how === 1) {
    rawWrite(c, Buffer.from('POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\npartial'));
    await sleep(crypto.randomInt(50));
  } else {
    rawWrite(c, Buffer.from(rawHandshake('/echo')));
    await rawWait(c, (x) => x.data.includes('\r\n\r\n') || x.closed, 10000, 'the 101 response');
    rawWrite(c, frame(2, crypto.randomBytes(5000)).subarray(0, 1000));
  }
  c.sock.resetAndDestroy();
  return { bytesIn: c.data.length, bytesOut: c.bytesOut };
}

// A client that reads a large file slowly (and sometimes gives up, or
// stops reading altogether: the server's write timeout must end it).
export async function slowReader(port, ctx) {
  const c = await rawConnect(port);
  rawWrite(c, Buffer.from(get('/big.bin')));
  const mode = pick(['slow', 'slow', 'abandon', 'stall']);
  let received = 0;
  c.sock.removeAllListeners('data');
  c.sock.on('data', (d) => {
    received += d.length;
    if (received < 4096) c.data = Buffer.concat([c.data, d]); // keep the head
    c.sock.pause();
    setTimeout(() => c.sock.resume(), mode === 'stall' ? 1e9 : 2);
  });
  const started = Date.now();
  if (mode === 'slow') {
    await rawWait(c, (x) => x.closed, 30000, 'the whole large file');
    if (received < ctx.bigSize) throw new Error(`slow reader got ${received} of ${ctx.bigSize} bytes`);
  } else {
    await sleep(mode === 'stall' ? ctx.writeTimeoutMs + 1000 : 300);
    c.sock.destroy();
  }
  return { bytesIn: received, bytesOut: c.bytesOut, ms: Date.now() - started };
}

// A client that sends its request a few bytes at a time (within the
// header timeout) and still gets its answer.
export async function slowWriter(port, ctx) {
  const c = await rawConnect(port);
  const req = Buffer.from(get('/index.html'));
  for (let i = 0; i < req.length; i += 4) {
    rawWrite(c, req.subarray(i, i + 4));
    await sleep(15);
  }
  await rawWait(c, (x) => x.closed, 15000, 'the response to a slow request');
  const [responses] = parseResponses(c.data, true);
  if (responses.length !== 1 || responses[0].status !== 200 || responses[0].body.length !== ctx.indexSize)
    throw new Error('slow writer: no complete 200 response');
  return { bytesIn: c.data.length, bytesOut: c.bytesOut };
}

// name -> [function, weight, valid]: valid traffic must always succeed.
export const scenarios = {
  static: [staticKeepAlive, 20, true],
  module: [routeModule, 15, true],
  cgi: [cgiScript, 4, true],
  wsEcho: [wsEcho, 15, true],
  wsChat: [wsChat, 8, true],
  slowWriter: [slowWriter, 4, true],
  slowReader: [slowReader, 5, true],
  malformedHttp: [malformedHttp, 10, false],
  malformedWs: [malformedWs, 5, false],
  halfOpen: [halfOpen, 6, false],
  reset: [abruptReset, 8, false],
};

export { wsOpen, wsNext, wsClose, sleep, httpOnce, get };
