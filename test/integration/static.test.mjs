// static.test.mjs - static files from www/ (router/static.c, path.c,
// mime.c, range.c) as curl and raw sockets see them: bytes, HEAD, index
// pages, redirects, 304, 206/416, MIME types, cache invalidation, and
// traversal attempts that must never reveal a canary file planted just
// outside the document root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, curl, rawRequest, sleep } from './lib/server.mjs';

let srv;
let tmp;
const CANARY = `CANARY-${crypto.randomBytes(8).toString('hex')}`;
const small = crypto.randomBytes(1000);          // served from the cache's memory
const big = crypto.randomBytes(300 * 1024);      // served with sendfile

before(async () => {
  srv = await startServer();
  tmp = fs.mkdtempSync(path.join(srv.dir, 'curl-'));
  const put = (name, body) => {
    fs.mkdirSync(path.dirname(path.join(srv.www, name)), { recursive: true });
    fs.writeFileSync(path.join(srv.www, name), body);
  };
  put('small.bin', small);
  put('big.bin', big);
  put('sub/index.html', '<p>sub index</p>\n');
  put('sub/page.txt', 'page\n');
  put('edit.txt', 'version one\n');
  put('empty.txt', '');
  fs.mkdirSync(path.join(srv.www, 'emptydir'));
  for (const ext of ['css', 'js', 'mjs', 'json', 'png', 'jpg', 'gif', 'svg', 'ico', 'webp', 'wasm', 'woff2', 'txt', 'map', 'xyz'])
    put(`types/a.${ext}`, 'x');
  put('types/UPPER.PNG', 'x');
  // The canary lives next to www/, never inside it.
  fs.writeFileSync(path.join(srv.dir, 'canary.txt'), `${CANARY}\n`);
  fs.symlinkSync('../canary.txt', path.join(srv.www, 'leak.txt'));
  fs.symlinkSync('..', path.join(srv.www, 'leakdir'));
  fs.symlinkSync('sub/page.txt', path.join(srv.www, 'inside-link.txt'));
});

after(async () => {
  await srv.stop();
});

// GET (or curl's other options) with the response headers and the raw body.
function get(target, args = []) {
  const hdr = path.join(tmp, 'h'), body = path.join(tmp, 'b');
  fs.rmSync(body, { force: true });
  const r = curl(['--path-as-is', '-D', hdr, '-o', body, ...args, `${srv.url}${target}`]);
  assert.equal(r.status, 0, `curl failed: ${r.stderr}`);
  const lines = fs.readFileSync(hdr, 'latin1').trim().split(/\r\n/);
  const headers = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  return {
    code: parseInt(lines[0].split(' ')[1], 10),
    headers,
    body: fs.existsSync(body) ? fs.readFileSync(body) : Buffer.alloc(0),
  };
}

const statusOf = (raw) => parseInt(raw.split(' ')[1], 10);

test('GET / serves the landing page linking to the demos', () => {
  const r = get('/');
  assert.equal(r.code, 200);
  assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
  assert.deepEqual(r.body, fs.readFileSync(path.join(srv.www, 'index.html')));
  for (const link of ['/chat.html', '/echo.html', '/hello'])
    assert.ok(r.body.includes(`href="${link}"`), link);
  assert.equal(get('/style.css').code, 200);
  assert.equal(get('/favicon.svg').headers['content-type'], 'image/svg+xml; charset=utf-8');
});

test('GET returns the exact bytes, small (memory) and big (sendfile)', () => {
  for (const [name, data] of [['small.bin', small], ['big.bin', big]]) {
    for (let i = 0; i < 2; i++) {          // first a miss, then a cache hit
      const r = get(`/${name}`);
      assert.equal(r.code, 200);
      assert.equal(r.headers['content-length'], String(data.length));
      assert.equal(r.headers['accept-ranges'], 'bytes');
      assert.match(r.headers.etag, /^"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"$/);
      assert.ok(r.headers['last-modified'].endsWith(' GMT'));
      assert.ok(r.body.equals(data), `${name} body differs`);
    }
  }
  const empty = get('/empty.txt');
  assert.equal(empty.code, 200);
  assert.equal(empty.headers['content-length'], '0');
});

test('HEAD sends the headers of GET and no body', async () => {
  const head = get('/big.bin', ['-I']);
  assert.equal(head.code, 200);
  assert.equal(head.headers['content-length'], String(big.length));
  assert.equal(head.headers.etag, get('/big.bin').headers.etag);
  // On the wire: nothing follows the blank line, and keep-alive works.
  const raw = await rawRequest(srv.port,
    'HEAD /small.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /sub/page.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  const parts = raw.split('\r\n\r\n');
  assert.equal(statusOf(parts[0]), 200);
  assert.match(parts[0], /Content-Length: 1000/i);
  assert.ok(parts[1].startsWith('HTTP/1.1 200'), 'the next response follows the HEAD headers at once');
  assert.equal(parts[2], 'page\n');
});

test('directories: index.html, 301 without the slash, 404 without index', () => {
  const sub = get('/sub/');
  assert.equal(sub.code, 200);
  assert.equal(sub.body.toString(), '<p>sub index</p>\n');
  assert.equal(get('/sub/index.html').body.toString(), '<p>sub index</p>\n');
  const moved = get('/sub');
  assert.equal(moved.code, 301);
  assert.equal(moved.headers.location, '/sub/');
  assert.equal(get('/sub?x=1').headers.location, '/sub/?x=1');
  const empty = get('/emptydir/');
  assert.equal(empty.code, 404);
  assert.ok(!empty.body.includes('emptydir'), 'no directory listing');
  assert.equal(get('/missing.html').code, 404);
  assert.equal(get('/sub/page.txt/').code, 404);   // a file is no directory
  assert.equal(get('/..hidden').code, 404);
  assert.equal(get('/inside-link.txt').body.toString(), 'page\n');  // symlink inside www/ is fine
});

test('304 Not Modified via If-None-Match and If-Modified-Since', () => {
  const first = get('/small.bin');
  const { etag } = first.headers;
  const lastModified = first.headers['last-modified'];
  const cond = (h) => get('/small.bin', ['-H', h]);

  const nm = cond(`If-None-Match: ${etag}`);
  assert.equal(nm.code, 304);
  assert.equal(nm.body.length, 0);
  assert.equal(nm.headers.etag, etag);
  assert.equal(cond(`If-None-Match: "nope", W/${etag}`).code, 304);   // list, weak comparison
  assert.equal(cond('If-None-Match: *').code, 304);
  assert.equal(cond('If-None-Match: "nope"').code, 200);

  assert.equal(cond(`If-Modified-Since: ${lastModified}`).code, 304);
  assert.equal(cond('If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT').code, 200);
  assert.equal(cond('If-Modified-Since: garbage').code, 200);
  // If-None-Match wins over If-Modified-Since.
  assert.equal(get('/small.bin', ['-H', 'If-None-Match: "nope"', '-H', `If-Modified-Since: ${lastModified}`]).code, 200);
});

test('206 Partial Content for one range, with If-Range', () => {
  const r = get('/small.bin', ['-H', 'Range: bytes=10-19']);
  assert.equal(r.code, 206);
  assert.equal(r.headers['content-range'], 'bytes 10-19/1000');
  assert.ok(r.body.equals(small.subarray(10, 20)));

  const suffix = get('/small.bin', ['-H', 'Range: bytes=-100']);
  assert.equal(suffix.headers['content-range'], 'bytes 900-999/1000');
  assert.ok(suffix.body.equals(small.subarray(900)));

  const open = get('/big.bin', ['-H', 'Range: bytes=100000-']);
  assert.equal(open.code, 206);
  assert.equal(open.headers['content-range'], `bytes 100000-${big.length - 1}/${big.length}`);
  assert.ok(open.body.equals(big.subarray(100000)));

  const clamped = get('/small.bin', ['-H', 'Range: bytes=990-5000']);
  assert.equal(clamped.headers['content-range'], 'bytes 990-999/1000');

  const { etag } = r.headers;
  assert.equal(get('/small.bin', ['-H', 'Range: bytes=0-0', '-H', `If-Range: ${etag}`]).code, 206);
  const stale = get('/small.bin', ['-H', 'Range: bytes=0-0', '-H', 'If-Range: "old"']);
  assert.equal(stale.code, 200);
  assert.ok(stale.body.equals(small));
  const lm = r.headers['last-modified'];
  assert.equal(get('/small.bin', ['-H', 'Range: bytes=0-0', '-H', `If-Range: ${lm}`]).code, 206);
});

test('416 for an unsatisfiable range; multiple or malformed ranges are ignored', () => {
  const r = get('/small.bin', ['-H', 'Range: bytes=1000-']);
  assert.equal(r.code, 416);
  assert.equal(r.headers['content-range'], 'bytes */1000');
  assert.equal(get('/empty.txt', ['-H', 'Range: bytes=0-']).code, 416);

  for (const range of ['bytes=0-1,5-6', 'bytes=5-2', 'lines=1-2', 'bytes=x-']) {
    const whole = get('/small.bin', ['-H', `Range: ${range}`]);
    assert.equal(whole.code, 200, range);
    assert.ok(whole.body.equals(small), range);
  }
});

test('Content-Type follows the extension, case-insensitively', () => {
  const want = {
    css: 'text/css; charset=utf-8', js: 'text/javascript; charset=utf-8',
    mjs: 'text/javascript; charset=utf-8', json: 'application/json; charset=utf-8',
    png: 'image/png', jpg: 'image/jpeg', gif: 'image/gif',
    svg: 'image/svg+xml; charset=utf-8', ico: 'image/x-icon', webp: 'image/webp',
    wasm: 'application/wasm', woff2: 'font/woff2', txt: 'text/plain; charset=utf-8',
    map: 'application/json; charset=utf-8', xyz: 'application/octet-stream',
  };
  for (const [ext, type] of Object.entries(want))
    assert.equal(get(`/types/a.${ext}`).headers['content-type'], type, ext);
  assert.equal(get('/types/UPPER.PNG').headers['content-type'], 'image/png');
});

test('a file edited on disk is served fresh at once', async () => {
  const file = path.join(srv.www, 'edit.txt');
  const one = get('/edit.txt');
  assert.equal(one.body.toString(), 'version one\n');
  fs.writeFileSync(file, 'version two, longer\n');
  const two = get('/edit.txt');
  assert.equal(two.body.toString(), 'version two, longer\n');
  assert.notEqual(two.headers.etag, one.headers.etag);
  await sleep(20);
  fs.writeFileSync(file, 'version 3, longer!!\n');       // same size, new mtime
  assert.equal(get('/edit.txt').body.toString(), 'version 3, longer!!\n');
  fs.rmSync(file);
  assert.equal(get('/edit.txt').code, 404);
  fs.writeFileSync(file, 'back\n');
  assert.equal(get('/edit.txt').body.toString(), 'back\n');
});

test('method policy: 405 with Allow for POST to a file, 501 for unknown methods', async () => {
  const post = get('/small.bin', ['-X', 'POST', '-d', 'x=1']);
  assert.equal(post.code, 405);
  assert.equal(post.headers.allow, 'GET, HEAD');
  const raw = await rawRequest(srv.port, 'BREW /small.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.equal(statusOf(raw), 501);
});

test('traversal attempts never reveal the canary and are logged', async () => {
  // The canary exists where a traversal would land.
  assert.equal(fs.readFileSync(path.join(srv.www, '..', 'canary.txt'), 'utf8'), `${CANARY}\n`);
  const targets = [
    '/../canary.txt',
    '/sub/../../canary.txt',
    '/%2e%2e/canary.txt',
    '/%2E%2E/canary.txt',
    '/.%2e/canary.txt',
    '/%2e./canary.txt',
    '/..%2fcanary.txt',
    '/%2e%2e%2fcanary.txt',
    '/sub%2f..%2f..%2fcanary.txt',
    '/..%5ccanary.txt',
    '/..\\canary.txt',
    '/%00../canary.txt',
    '/canary.txt%00.html',
    '/leak.txt',                    // symlink inside www/ to the canary
    '/leakdir/canary.txt',          // symlinked directory leading out
  ];
  for (const target of targets) {
    const raw = await rawRequest(srv.port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.ok([400, 403, 404].includes(statusOf(raw)), `${target}: ${raw.split('\r\n')[0]}`);
    assert.ok(!raw.includes(CANARY), `${target} leaked the canary`);
    assert.ok(srv.errorLog().includes(target), `${target} is not in the error log`);
  }
  // Targets curl would rewrite, and an absolute-form target.
  for (const target of ['http://127.0.0.1/../canary.txt', `http://127.0.0.1:${srv.port}/%2e%2e/canary.txt`]) {
    const raw = await rawRequest(srv.port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.ok([400, 403, 404].includes(statusOf(raw)), `${target}: ${raw.split('\r\n')[0]}`);
    assert.ok(!raw.includes(CANARY), `${target} leaked the canary`);
  }
  const viaCurl = get('/../canary.txt');
  assert.equal(viaCurl.code, 403);
  assert.ok(!viaCurl.body.includes(CANARY));
  assert.match(srv.errorLog(), /WARN .*127\.0\.0\.1/);
});

test('many keep-alive clients and edits at once stay consistent', async () => {
  // Readers on keep-alive connections while the file changes underneath:
  // every body must be one of the versions written, never a mix.
  const file = path.join(srv.www, 'race.txt');
  const versions = Array.from({ length: 5 }, (_, i) => `${i}`.repeat(2000 + i * 10));
  fs.writeFileSync(file, versions[0]);
  const reader = () => rawRequest(srv.port,
    Array(20).fill('GET /race.txt HTTP/1.1\r\nHost: x\r\n\r\n').join('') +
    'GET /race.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', { idleMs: 3000 });
  const pending = Array.from({ length: 8 }, reader);
  for (const v of versions.slice(1)) {
    await sleep(5);
    fs.writeFileSync(`${file}.tmp`, v);
    fs.renameSync(`${file}.tmp`, file);      // atomic replace: never a partial file
  }
  for (const raw of await Promise.all(pending)) {
    const responses = raw.split('HTTP/1.1 ').slice(1);
    assert.equal(responses.length, 21);
    for (const resp of responses) {
      assert.ok(resp.startsWith('200'), resp.slice(0, 40));
      const body = resp.slice(resp.indexOf('\r\n\r\n') + 4);
      assert.ok(versions.includes(body), `unexpected body of ${body.length} bytes`);
    }
  }
});
