// http.test.mjs - the HTTP/1.1 message layer (server/http_parse.c,
// http_chunked.c, http_response.c, and the request loop in http_conn.c)
// as real clients see it: GET and HEAD, keep-alive, pipelining, chunked
// request bodies, every error status the parser can answer, a slowloris
// client, many clients at once, and a clean SIGTERM under load.
// Static-file behaviour (ETag, Range, traversal) is in static.test.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { startServer, curl, rawRequest, sleep } from './lib/server.mjs';

const HELLO = 'hello, world\n';
const OTHER = 'the other file\n';
let srv;

before(async () => {
  srv = await startServer({
    www: { 'index.html': '<p>index</p>\n', 'hello.txt': HELLO, 'other.txt': OTHER },
    args: ['--max-body-size', '1000'],
  });
});

after(async () => {
  assert.equal(await srv.stop(), 0, 'a clean exit (no crash, no sanitizer report)');
});

// Splits a byte stream holding several responses (Content-Length framed)
// into [{ status, headers, body }].
function parseResponses(raw) {
  const out = [];
  let rest = raw;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) throw new Error(`incomplete response head: ${JSON.stringify(rest)}`);
    const lines = rest.slice(0, end).split('\r\n');
    const headers = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    const status = parseInt(lines[0].split(' ')[1], 10);
    const len = headers['content-length'] === undefined ? 0 : parseInt(headers['content-length'], 10);
    out.push({ status, statusLine: lines[0], headers, body: rest.slice(end + 4, end + 4 + len) });
    rest = rest.slice(end + 4 + len);
  }
  return out;
}

const CLF = /^\S+ - - \[\d{2}\/\w{3}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "[^"]*" \d{3} \d+ "[^"]*" "[^"]*"$/;

test('GET answers with the body, Date, Server and Content-Length', () => {
  const r = curl(['-i', `${srv.url}/hello.txt`]);
  assert.equal(r.status, 0, r.stderr);
  const [res] = parseResponses(r.stdout);
  assert.equal(res.statusLine, 'HTTP/1.1 200 OK');
  assert.equal(res.body, HELLO);
  assert.equal(res.headers['content-length'], String(HELLO.length));
  assert.equal(res.headers.server, 'online-game/0.1.0');
  assert.match(res.headers.date, /^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
  assert.ok(Math.abs(Date.parse(res.headers.date) - Date.now()) < 5000);
});

test('HEAD sends the headers with Content-Length and no body', async () => {
  const raw = await rawRequest(srv.port, 'HEAD /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
  assert.match(raw, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(raw, new RegExp(`\\r\\nContent-Length: ${HELLO.length}\\r\\n`, 'i'));
  assert.ok(raw.endsWith('\r\n\r\n'), 'nothing after the head');
});

test('keep-alive: curl reuses one connection for two URLs', () => {
  // --stderr - puts curl's verbose log on stdout.
  const v = curl(['-v', '-o', '/dev/null', '-o', '/dev/null', '--stderr', '-', `${srv.url}/hello.txt`, `${srv.url}/other.txt`]);
  assert.match(v.stdout, /Re-using existing connection/);
  assert.equal((v.stdout.match(/Connected to/g) || []).length, 1);
});

test('keep-alive: HTTP/1.0 closes unless asked, stays open with Connection: keep-alive', async () => {
  const closed = await rawRequest(srv.port, 'GET /hello.txt HTTP/1.0\r\n\r\n', { idleMs: 3000 });
  assert.match(closed, /\r\nConnection: close\r\n/i);
  const kept = await rawRequest(srv.port, [
    'GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
    'GET /other.txt HTTP/1.0\r\n\r\n'], { delayMs: 200, idleMs: 3000 });
  const res = parseResponses(kept);
  assert.equal(res.length, 2);
  assert.equal(res[0].headers.connection, 'keep-alive');
  assert.equal(res[1].body, OTHER);
});

test('pipelining: two requests in one write get two responses in order', async () => {
  const raw = await rawRequest(srv.port,
    'GET /other.txt HTTP/1.1\r\nHost: t\r\n\r\nGET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
  const res = parseResponses(raw);
  assert.deepEqual(res.map((r) => [r.status, r.body]), [[200, OTHER], [200, HELLO]]);
});

test('chunked POST: the whole body is read, the next pipelined request is served', async () => {
  const body = '4\r\nabcd\r\n6;ext=1\r\nefghij\r\n0\r\nX-Trailer: yes\r\n\r\n';
  const req = `POST /hello.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n${body}` +
    'GET /other.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n';
  // Once in one write, once one byte per write (every split point at once).
  for (const [chunks, delayMs] of [[[req], 0], [req.split(''), 1]]) {
    const res = parseResponses(await rawRequest(srv.port, chunks, { idleMs: 3000, delayMs }));
    assert.equal(res.length, 2);
    assert.equal(res[0].status, 405);
    assert.equal(res[0].headers.allow, 'GET, HEAD');
    assert.deepEqual([res[1].status, res[1].body], [200, OTHER]);
  }
});

test('Content-Length POST body is consumed before the next request', async () => {
  const res = parseResponses(await rawRequest(srv.port,
    'POST /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789' +
    'GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'));
  assert.deepEqual(res.map((r) => r.status), [405, 200]);
  assert.equal(res[1].body, HELLO);
});

// Each bad request gets its status, an HTML page, and (except 405) a closed connection.
const errorCases = [
  ['malformed request line', 'GET /  HTTP/1.1\r\nHost: t\r\n\r\n', 400],
  ['bare CR in the request line', 'GET / HTTP/1.1\rHost: t\r\n\r\n', 400],
  ['missing Host on HTTP/1.1', 'GET / HTTP/1.1\r\n\r\n', 400],
  ['two Host headers', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400],
  ['space before the colon', 'GET / HTTP/1.1\r\nHost : t\r\n\r\n', 400],
  ['obs-fold', 'GET / HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n 2\r\n\r\n', 400],
  ['absolute-form target (we are not a proxy)', 'GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n', 400],
  ['bad Content-Length', 'POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 12abc\r\n\r\n', 400],
  ['Content-Length with Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
  ['differing Content-Lengths', 'POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', 400],
  ['malformed chunk size', 'POST /hello.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 400],
  ['chunk data longer than its size', 'POST /hello.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n', 400],
  ['more than 100 headers', `GET / HTTP/1.1\r\nHost: t\r\n${'X: y\r\n'.repeat(101)}\r\n`, 431],
  ['target over --max-uri-size', `GET /${'a'.repeat(5000)} HTTP/1.1\r\nHost: t\r\n\r\n`, 414],
  ['Content-Length over --max-body-size', 'POST /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n', 413],
  ['chunked body over --max-body-size', 'POST /hello.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n' +
    `100\r\n${'x'.repeat(256)}\r\n`.repeat(5) + '0\r\n\r\n', 413],
  ['unknown method', 'BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n', 501],
  ['Transfer-Encoding gzip', 'POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n', 501],
  ['HTTP/2.0 request line', 'GET / HTTP/2.0\r\nHost: t\r\n\r\n', 505],
  ['malformed version', 'GET / HTTP/one\r\nHost: t\r\n\r\n', 400],
];

test('every parse error gets its status, a page, and Connection: close', async () => {
  for (const [what, request, status] of errorCases) {
    // A valid request follows on the same connection: it must not be served.
    const raw = await rawRequest(srv.port, request + 'GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n', { idleMs: 3000 });
    const res = parseResponses(raw);
    assert.equal(res[0]?.status, status, `${what}: ${JSON.stringify(raw.slice(0, 200))}`);
    assert.equal(res[0].headers['content-type'], 'text/html; charset=utf-8', what);
    assert.ok(res[0].body.includes(`<h1>${status} `), what);
    assert.equal(res[0].headers.connection, 'close', what);
    assert.equal(res.length, 1, `${what}: nothing is served after the error`);
  }
});

test('405 names the allowed methods and keeps the connection', async () => {
  const res = parseResponses(await rawRequest(srv.port,
    'DELETE /hello.txt HTTP/1.1\r\nHost: t\r\n\r\nGET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'));
  assert.equal(res[0].status, 405);
  assert.equal(res[0].headers.allow, 'GET, HEAD');
  assert.ok(res[0].body.includes('<h1>405 Method Not Allowed</h1>'));
  assert.equal(res[1].body, HELLO);
});

test('OPTIONS * answers 200 with the server-wide Allow and an empty body', async () => {
  const res = parseResponses(await rawRequest(srv.port,
    'OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\nGET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'));
  assert.equal(res[0]?.statusLine, 'HTTP/1.1 200 OK');
  assert.equal(res[0].headers.allow, 'GET, HEAD, POST, OPTIONS');
  assert.equal(res[0].headers['content-length'], '0');
  assert.equal(res[0].body, '');
  assert.equal(res[1]?.body, HELLO, 'the connection stays open');
  const viaCurl = curl(['-i', '-X', 'OPTIONS', '--request-target', '*', srv.url]);
  assert.match(viaCurl.stdout, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(viaCurl.stdout, /\r\nAllow: GET, HEAD, POST, OPTIONS\r\n/);
});

test('Expect: 100-continue gets an interim 100 before the final answer', async () => {
  const raw = await rawRequest(srv.port, [
    'POST /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n',
    'abc'], { delayMs: 300, idleMs: 3000 });
  assert.match(raw, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 405 /);
});

test('a slowloris client is cut off by --header-timeout while others are served', async () => {
  const slow = await startServer({ www: { 'hello.txt': HELLO }, args: ['--header-timeout', '2'] });
  try {
    const sock = net.connect(slow.port, '127.0.0.1');
    let got = '';
    let closedAt = 0;
    sock.on('data', (d) => { got += d.toString('latin1'); });
    const closed = new Promise((resolve) => sock.on('close', () => { closedAt = Date.now(); resolve(); }));
    sock.on('error', () => {});
    await new Promise((resolve) => sock.on('connect', resolve));
    const start = Date.now();
    const head = 'GET /hello.txt HTTP/1.1\r\nHost: t\r\nX-Slow: ' + 'a'.repeat(100);
    let i = 0;
    const drip = setInterval(() => { if (!sock.destroyed && i < head.length) sock.write(head[i++]); }, 1000);
    try {
      await sleep(500);
      // Meanwhile another client is served at once.
      const t0 = Date.now();
      const fast = curl(['-s', `${slow.url}/hello.txt`]);
      assert.equal(fast.stdout, HELLO);
      assert.ok(Date.now() - t0 < 1000, 'the normal client was not held up');
      await Promise.race([closed, sleep(8000)]);
    } finally {
      clearInterval(drip);
    }
    assert.ok(closedAt > 0, 'the slow client was disconnected');
    const took = closedAt - start;
    assert.ok(took >= 1500 && took < 4500, `cut off after ${took} ms`);
    // Part of a head arrived before the deadline, so the server answers 408.
    assert.match(got, /^HTTP\/1\.1 408 /);
    sock.destroy();
  } finally {
    assert.equal(await slow.stop(), 0);
  }
});

// Sends head at once, then body one byte every everyMs. Resolves when the
// server closes (or after giveUpMs) with what came back and when.
function dripRequest(port, head, body, { everyMs, giveUpMs }) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '', i = 0, drip, start = 0;
    const finish = (closedAt) => {
      clearInterval(drip);
      clearTimeout(giveUp);
      sock.destroy();
      resolve({ got, took: closedAt ? closedAt - start : -1 });
    };
    const giveUp = setTimeout(() => finish(0), giveUpMs);
    sock.on('data', (d) => { got += d.toString('latin1'); });
    sock.on('close', () => finish(Date.now()));
    sock.on('error', () => {});
    sock.on('connect', () => {
      start = Date.now();
      sock.write(head);
      drip = setInterval(() => { if (!sock.destroyed && i < body.length) sock.write(body[i++]); }, everyMs);
    });
  });
}

test('a request body trickled below --min-rate gets 408 after --body-timeout while others are served', async () => {
  const slow = await startServer({ www: { 'hello.txt': HELLO }, args: ['--body-timeout', '2'] });
  try {
    // A byte every 300 ms: each read comes well within --header-timeout
    // (10 s), but 100 bytes would take 30 s. Both framings.
    const opts = { everyMs: 300, giveUpMs: 12000 };
    const fixed = dripRequest(slow.port, 'POST /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n',
      'a'.repeat(100), opts);
    const chunked = dripRequest(slow.port, 'POST /hello.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n',
      `64\r\n${'a'.repeat(100)}\r\n0\r\n\r\n`, opts);
    await sleep(500);
    const t0 = Date.now();
    assert.equal(curl([`${slow.url}/hello.txt`]).stdout, HELLO);
    assert.ok(Date.now() - t0 < 1000, 'the normal client was not held up');
    for (const [what, r] of [['Content-Length', await fixed], ['chunked', await chunked]]) {
      assert.ok(r.took > 0, `${what}: the slow client was disconnected`);
      assert.ok(r.took >= 1500 && r.took < 4500, `${what}: cut off after ${r.took} ms`);
      assert.match(r.got, /^HTTP\/1\.1 408 /, what);
    }
    assert.equal((slow.errorLog().match(/request body too slow/g) || []).length, 2);
  } finally {
    assert.equal(await slow.stop(), 0);
  }
});

test('a client reading a response below --min-rate is dropped while others are served', async () => {
  const size = 64 << 20;
  const slow = await startServer({ www: { 'hello.txt': HELLO, 'big.bin': Buffer.alloc(size, 'x') },
    args: ['--write-timeout', '4', '--min-rate', '16M'] });
  try {
    // The client takes one read (at most 64 KiB) every 50 ms: the server's
    // socket turns writable about once a second, well within
    // --write-timeout, but ~1.3 MB/s is far below 16 MiB/s, so the client
    // must be dropped within seconds, not the 50 s the file would take.
    const sock = net.connect(slow.port, '127.0.0.1');
    let received = 0, trickling = true;
    sock.on('data', (d) => { received += d.length; if (trickling) sock.pause(); });
    sock.on('error', () => {});
    const ended = new Promise((resolve) => sock.on('close', resolve));
    await new Promise((resolve) => sock.on('connect', resolve));
    sock.write('GET /big.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    const trickle = setInterval(() => sock.resume(), 50);
    const start = Date.now();
    let dropped = false;
    try {
      await sleep(500);
      const t0 = Date.now();
      assert.equal(curl([`${slow.url}/hello.txt`]).stdout, HELLO);
      assert.ok(Date.now() - t0 < 1000, 'the normal client was not held up');
      while (!dropped && Date.now() - start < 30000) {
        await sleep(100);
        dropped = /client reads slower than --min-rate/.test(slow.errorLog());
      }
    } finally {
      clearInterval(trickle);
    }
    assert.ok(dropped, 'the slow reader was dropped, with a log line');
    trickling = false; // read what the kernel still holds, up to the close
    sock.resume();
    assert.notEqual(await Promise.race([ended, new Promise((r) => setTimeout(r, 10000, 'timeout'))]), 'timeout', 'the server closed');
    assert.ok(received < size, `the response was cut short (${received} bytes)`);
  } finally {
    assert.equal(await slow.stop(), 0);
  }
});

test('a chunked body grows past the first buffer; past --max-body-size it is 413', async () => {
  const big = await startServer({ args: ['--max-body-size', '200K'] });
  try {
    const post = (chunks) => rawRequest(big.port, 'POST /hello HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n' +
      'Connection: close\r\n\r\n' + chunks.map((c) => `${c.length.toString(16)}\r\n${c}\r\n`).join('') + '0\r\n\r\n',
    { idleMs: 5000 });
    // Many small chunks, then one chunk bigger than the first buffer (16 KiB).
    for (const chunks of [Array.from({ length: 25 }, (_, i) => String.fromCharCode(97 + i).repeat(4096)),
      ['y'.repeat(150 * 1024)]]) {
      const [res] = parseResponses(await post(chunks));
      assert.equal(res?.status, 200);
      const echo = JSON.parse(res.body);
      assert.equal(echo.body_bytes, chunks.join('').length);
      assert.equal(echo.body, chunks.join(''));
    }
    const [tooBig] = parseResponses(await post(Array.from({ length: 60 }, () => 'z'.repeat(4096))));
    assert.equal(tooBig?.status, 413);
  } finally {
    assert.equal(await big.stop(), 0);
  }
});

// GET path with Node's http client, one connection per request.
function nodeGet(port, path) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.setTimeout(20000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

test('500 concurrent clients are all served', async () => {
  const results = await Promise.allSettled(
    Array.from({ length: 500 }, (_, i) => nodeGet(srv.port, i % 2 ? '/hello.txt' : `/other.txt?i=${i}`)));
  const failed = results.filter((r) => r.status !== 'fulfilled');
  assert.equal(failed.length, 0, `failed: ${failed.slice(0, 3).map((r) => r.reason).join('; ')}`);
  results.forEach((r, i) => {
    assert.equal(r.value.status, 200);
    assert.equal(r.value.body, i % 2 ? HELLO : OTHER);
  });
});

test('SIGTERM under load: exit code 0 and every access log line is whole', async () => {
  const busy = await startServer({ www: { 'hello.txt': HELLO } });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 50 });
  let stop = false, served = 0;
  const client = async () => {
    while (!stop) {
      try {
        await new Promise((resolve, reject) => {
          const req = http.get({ host: '127.0.0.1', port: busy.port, path: '/hello.txt', agent }, (res) => {
            res.resume();
            res.on('end', () => { served++; resolve(); });
          });
          req.on('error', reject);
        });
      } catch {
        return; // the server is going away
      }
    }
  };
  const clients = Array.from({ length: 50 }, client);
  await sleep(1000);
  process.kill(busy.pid, 'SIGTERM');
  const code = await Promise.race([busy.exited, sleep(10000).then(() => 'timeout')]);
  stop = true;
  const log = busy.accessLog();
  await Promise.allSettled(clients);
  agent.destroy();
  await busy.stop();
  assert.equal(code, 0);
  assert.ok(served > 50, `served ${served}`);
  const lines = log.split('\n');
  assert.equal(lines.pop(), '', 'the log ends with a newline');
  for (const line of lines) assert.match(line, CLF);
});
