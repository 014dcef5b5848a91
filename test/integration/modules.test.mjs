// modules.test.mjs - route modules (router/module.c, router/route.h) as a
// user sees them: the shipped hello and time modules over curl, method
// lists, declining to static files, header rules, broken modules (500
// while the others keep serving), hot reload under a hammering client,
// removal, and module-name traversal attempts.
//
// Test modules are compiled from test/fixtures/modules/*.c with cc, the
// way the Makefile builds cgi-bin/*.c, into a scratch directory.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, curl, curlResponse, repoRoot, sleep } from './lib/server.mjs';

const fixtures = path.join(repoRoot, 'test/fixtures/modules');
let srv;
let buildDir;

// Builds fixtures/<name>.c into buildDir/<out>.so; returns its path.
function buildModule(name, { out = name, defines = [] } = {}) {
  const so = path.join(buildDir, `${out}.so`);
  execFileSync('cc', ['-std=c11', '-D_GNU_SOURCE', '-O2', '-Wall', '-Wextra', '-Werror',
    '-fPIC', '-shared', ...defines.map((d) => `-D${d}`), '-o', so,
    path.join(fixtures, `${name}.c`)], { stdio: 'pipe' });
  return so;
}

// Installs a file into cgi-bin the way a careful deploy does: write a
// temporary file, then rename it over the old one (atomic). ageS sets its
// mtime that many seconds back (a file that has "settled").
function install(from, name, { ageS = 0 } = {}) {
  const tmp = path.join(srv.cgiDir, `.${name}.tmp`);
  fs.copyFileSync(from, tmp);
  if (ageS) {
    const t = new Date(Date.now() - ageS * 1000);
    fs.utimesSync(tmp, t, t);
  }
  fs.renameSync(tmp, path.join(srv.cgiDir, name));
}

// curl -i -> { status, headers (lower-case names), body, ms }.
function request(urlPath, args = []) {
  return curlResponse(srv.url, urlPath, args);
}

before(async () => {
  buildDir = fs.mkdtempSync(path.join(os.tmpdir(), 'og-modules-'));
  srv = await startServer({
    www: { 'index.html': '<p>index</p>\n', 'decline/pass/file.txt': 'static answer\n' },
  });
});

after(async () => {
  await srv.stop();
  fs.rmSync(buildDir, { recursive: true, force: true });
});

test('hello: GET with a query, headers and path info', () => {
  const r = request('/hello/there/x%20y?name=Ada&n=1', ['-H', 'X-Demo: 42']);
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/json');
  const j = JSON.parse(r.body);
  assert.equal(j.greeting, 'hello, Ada');
  assert.equal(j.method, 'GET');
  assert.equal(j.path, '/hello/there/x%20y');
  assert.equal(j.path_info, '/there/x y');
  assert.equal(j.query, 'name=Ada&n=1');
  assert.equal(j.headers['X-Demo'], '42');
  assert.equal(j.headers.Host, `127.0.0.1:${srv.port}`);
  assert.equal(j.client, '127.0.0.1');
  assert.equal(j.body_bytes, 0);
});

test('hello: POST body, percent-decoded query', () => {
  const r = request('/hello?name=J%C3%BCrgen+M', ['--data-binary', 'the body\nline 2',
    '-H', 'Content-Type: text/plain']);
  assert.equal(r.status, 200);
  const j = JSON.parse(r.body);
  assert.equal(j.method, 'POST');
  assert.equal(j.greeting, 'hello, Jürgen M');
  assert.equal(j.body, 'the body\nline 2');
  assert.equal(j.body_bytes, 15);
  assert.equal(j.headers['Content-Type'], 'text/plain');
});

test('hello: HEAD is GET without a body; other methods get 405 with Allow', () => {
  const head = request('/hello', ['-I']);
  assert.equal(head.status, 200);
  assert.ok(Number(head.headers['content-length']) > 0);
  assert.equal(head.body, '');
  const put = request('/hello', ['-X', 'PUT', '--data', 'x']);
  assert.equal(put.status, 405);
  assert.equal(put.headers.allow, 'GET, POST');
});

test('time: JSON with the server clock; init() ran', () => {
  const r = request('/time');
  assert.equal(r.status, 200);
  assert.equal(r.headers['cache-control'], 'no-store');
  const j = JSON.parse(r.body);
  assert.ok(Math.abs(j.unix - Date.now() / 1000) < 60, `unix ${j.unix}`);
  assert.match(j.iso, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.ok(j.loaded_s >= 0 && j.loaded_s < 600);
});

test('a module can decline: the request falls through to static files', () => {
  install(buildModule('decline'), 'decline.so');
  const own = request('/decline?who=me');
  assert.equal(own.status, 201);
  assert.equal(own.headers['content-type'], 'text/x-decline');
  assert.equal(own.headers['x-module'], 'decline');
  // Header injection and server-owned headers were refused (-1).
  assert.equal(own.body, 'crlf=-1 owned=-1 good=0 who=me\n');
  assert.equal(own.headers['x-evil'], undefined);
  assert.equal(own.headers['set-cookie'], undefined);
  assert.equal(own.headers['content-length'], String(own.body.length));

  const passed = request('/decline/pass/file.txt');
  assert.equal(passed.status, 200);
  assert.equal(passed.body, 'static answer\n');
  assert.equal(request('/decline/pass/missing.txt').status, 404);
});

test('broken modules get a generic 500, are logged once, others keep serving', async () => {
  const notElf = path.join(buildDir, 'notso.so');
  fs.writeFileSync(notElf, 'this is not an ELF file\n'.repeat(10));
  const broken = {
    nosym: [buildModule('nosym'), /no symbol online_game_module/],
    badabi: [buildModule('badabi'), /ABI version 42, the server needs 1/],
    badsym: [buildModule('badsym'), /not an rt_module/],
    initfail: [buildModule('initfail'), /init\(\) failed/],
    notso: [notElf, /not an ELF file/],
  };
  // Old files: a file changed less than a second ago is retried, as the
  // linker may still be writing it (see the next test).
  for (const [name, [file]] of Object.entries(broken)) install(file, `${name}.so`, { ageS: 60 });
  install(buildModule('failing'), 'failing.so');

  for (let round = 0; round < 3; round++) {
    for (const name of [...Object.keys(broken), 'failing']) {
      const r = request(`/${name}`);
      assert.equal(r.status, 500, name);
      assert.doesNotMatch(r.body, /symbol|ABI|dlopen|init|SECRET|ELF|online_game/);
      assert.equal(request('/hello').status, 200); // the server is fine
    }
  }
  await sleep(100);
  const log = srv.errorLog();
  for (const [name, [, reason]] of Object.entries(broken)) {
    const lines = log.split('\n').filter((l) => l.includes(`module ${name}: cannot load`));
    assert.equal(lines.length, 1, `${name}: one log line, not one per request:\n${log}`);
    assert.match(lines[0], /ERROR/);
    assert.match(lines[0], reason);
  }
  // A handler's failure is logged for each request that hit it.
  const failing = log.split('\n').filter((l) => l.includes('module failing: handler failed'));
  assert.equal(failing.length, 3);

  // Fixing a broken module takes effect without a restart.
  install(buildModule('reload', { out: 'fixed', defines: ['VERSION=7'] }), 'nosym.so');
  const fixed = request('/nosym');
  assert.equal(fixed.status, 200);
  assert.equal(fixed.body, 'version 7\n');
});

test('hot reload: every response is 200 and the new version takes over', async () => {
  const v1 = buildModule('reload', { out: 'reload1', defines: ['VERSION=1'] });
  const v2 = buildModule('reload', { out: 'reload2', defines: ['VERSION=2'] });
  install(v1, 'reload.so');
  assert.equal(request('/reload').body, 'version 1\n');

  const results = [];
  let stop = false;
  let seenV2At = 0;
  const worker = async () => {
    while (!stop) {
      const res = await fetch(`${srv.url}/reload`);
      const body = await res.text();
      results.push([res.status, body]);
      if (body === 'version 2\n' && !seenV2At) seenV2At = Date.now();
    }
  };
  const workers = Array.from({ length: 4 }, worker);
  await sleep(300);
  install(v2, 'reload.so');
  const deadline = Date.now() + 10000;
  while ((!seenV2At || Date.now() - seenV2At < 300) && Date.now() < deadline) await sleep(20);
  stop = true;
  await Promise.all(workers);

  assert.ok(results.length > 50, `only ${results.length} requests`);
  const bad = results.filter(([status, body]) =>
    status !== 200 || (body !== 'version 1\n' && body !== 'version 2\n'));
  assert.deepEqual(bad, []);
  assert.ok(results.some(([, b]) => b === 'version 1\n'));
  assert.ok(seenV2At, 'version 2 never answered');
  assert.equal(results.at(-1)[1], 'version 2\n');
  await sleep(100);
  assert.match(srv.errorLog(), /module reload: unloaded/); // the old copy closed

  // Overwriting the file in place (same inode) is safe too: the server
  // runs a private copy, never the file being rewritten.
  const v3 = buildModule('reload', { out: 'reload3', defines: ['VERSION=3'] });
  fs.copyFileSync(v3, path.join(srv.cgiDir, 'reload.so'));
  assert.equal(request('/reload').body, 'version 3\n');
});

test('a module being rewritten in place (make) keeps its old version until the new one loads', async () => {
  const v1 = buildModule('reload', { out: 'inplace1', defines: ['VERSION=1'] });
  const v2 = buildModule('reload', { out: 'inplace2', defines: ['VERSION=2'] });
  install(v1, 'inplace.so', { ageS: 60 });
  assert.equal(request('/inplace').body, 'version 1\n');
  // What a request may see while the linker writes: a truncated file.
  const target = path.join(srv.cgiDir, 'inplace.so');
  fs.writeFileSync(target, fs.readFileSync(v2).subarray(0, 4000));
  for (let i = 0; i < 3; i++) {
    const r = request('/inplace');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'version 1\n');
  }
  assert.match(srv.errorLog(), /WARN .*module inplace: cannot load .* yet \(just changed, will retry\)/);
  fs.writeFileSync(target, fs.readFileSync(v2)); // the linker is done
  await sleep(150);
  assert.equal(request('/inplace').body, 'version 2\n');
});

test('a removed module stops being served', () => {
  install(buildModule('reload', { out: 'gone', defines: ['VERSION=5'] }), 'gone.so');
  assert.equal(request('/gone').body, 'version 5\n');
  fs.unlinkSync(path.join(srv.cgiDir, 'gone.so'));
  assert.equal(request('/gone').status, 404);
  assert.equal(request('/gone/x').status, 404);
});

test('traversal and odd names never load a module', () => {
  const hello = path.join(srv.cgiDir, 'hello.so');
  fs.copyFileSync(hello, path.join(srv.cgiDir, '.hidden.so'));
  const outside = path.join(srv.dir, 'outside.so');
  fs.copyFileSync(hello, outside);
  fs.symlinkSync(outside, path.join(srv.cgiDir, 'escape.so'));
  fs.symlinkSync('hello.so', path.join(srv.cgiDir, 'alias.so')); // inside: fine

  const notModule = (p, args = []) => {
    const r = request(p, args);
    assert.notEqual(r.status, 200, p);
    assert.doesNotMatch(r.body, /greeting/, p);
    return r.status;
  };
  assert.equal(notModule('/.hidden'), 404);
  assert.equal(notModule('/hello.so'), 404);
  assert.equal(notModule('/escape'), 404);
  notModule('/..%2fcgi-bin%2fhello');
  notModule('/%2e%2e/cgi-bin/hello', ['--path-as-is']);
  notModule('/../cgi-bin/hello.so', ['--path-as-is']);
  notModule('/hello%00');
  notModule(`/${'a'.repeat(300)}`);
  assert.match(srv.errorLog(), /module escape: not loaded/);
  assert.equal(JSON.parse(request('/alias').body).greeting, 'hello, world');
});

test('modules load and answer on the smallest thread stacks (--thread-stack 32K and 64K)', async () => {
  for (const stack of ['32768', '65536']) {
    const small = await startServer({ www: { 'index.html': 'x' }, args: ['--thread-stack', stack] });
    try {
      const get = curl([`${small.url}/hello/there?name=Ada`]);
      assert.equal(get.status, 0, `${stack}: ${get.stderr}`);
      assert.equal(JSON.parse(get.stdout).greeting, 'hello, Ada', stack);
      const post = curl(['--data-binary', 'abc', `${small.url}/hello`]);
      assert.equal(JSON.parse(post.stdout).body, 'abc', stack);
      assert.ok(JSON.parse(curl([`${small.url}/time`]).stdout).unix > 0, stack);
    } finally {
      assert.equal(await small.stop(), 0, `${stack}: a clean exit, no crash`);
    }
  }
});

test('module copies go beside the cgi dir (0700, so a noexec /tmp does not matter) and are removed at exit', async () => {
  // TMPDIR cannot be used at all: modules must load anyway.
  const own = await startServer({ www: { 'index.html': 'x' }, env: { TMPDIR: '/nonexistent-tmp-dir' } });
  try {
    assert.equal(JSON.parse(curl([`${own.url}/hello`]).stdout).greeting, 'hello, world');
    const dirs = fs.readdirSync(own.dir).filter((n) => n.startsWith('.online-game-modules.'));
    assert.equal(dirs.length, 1, `beside ${own.cgiDir}: ${fs.readdirSync(own.dir)}`);
    const dir = path.join(own.dir, dirs[0]);
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
    assert.deepEqual(fs.readdirSync(dir), [], 'each copy is unlinked once loaded');
    own.child.kill('SIGTERM');
    assert.equal(await own.exited, 0);
    assert.equal(fs.existsSync(dir), false, 'removed at exit');
  } finally {
    await own.stop();
  }
});
