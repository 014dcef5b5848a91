// cgi.test.mjs - CGI/1.1 scripts (router/cgi*.c) over curl: the shipped
// env.sh (meta-variables, nothing of the server's environment, the body
// on stdin), Status/Location/other headers, stderr in the error log,
// malformed output -> 502, a script that ignores a large body, the
// timeout -> 504 with the whole process group killed and no zombie left,
// and which file runs for a name.
//
// Fixture scripts come from test/fixtures/cgi/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, curl, curlResponse, repoRoot, sleep } from './lib/server.mjs';

const fixtures = path.join(repoRoot, 'test/fixtures/cgi');
let srv;

// curl -i -> { status, headers (lower-case names), body, ms }.
function request(urlPath, args = []) {
  return curlResponse(srv.url, urlPath, args);
}

// env.sh's output -> { NAME: value }.
function envOf(body) {
  const vars = {};
  for (const line of body.split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) vars[m[1]] = m[2];
  }
  return vars;
}

// Processes whose parent is pid: [{ pid, stat, comm }].
function childrenOf(pid) {
  let out = '';
  try {
    out = execFileSync('ps', ['--ppid', String(pid), '-o', 'pid=,stat=,comm='], { encoding: 'utf8' });
  } catch (e) {
    out = e.stdout || ''; // ps exits 1 when it lists nothing
  }
  return out.trim().split('\n').filter(Boolean).map((l) => {
    const [p, stat, comm] = l.trim().split(/\s+/);
    return { pid: Number(p), stat, comm };
  });
}

// True while pid exists and is not a zombie.
function running(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

before(async () => {
  srv = await startServer({
    www: { 'index.html': '<p>index</p>\n' },
    args: ['--cgi-timeout', '1'],
    env: { ONLINE_GAME_SECRET: 'do-not-leak' },
  });
  for (const f of fs.readdirSync(fixtures)) {
    fs.copyFileSync(path.join(fixtures, f), path.join(srv.cgiDir, f));
    fs.chmodSync(path.join(srv.cgiDir, f), 0o755);
  }
});

after(async () => {
  await srv.stop();
});

test('env.sh sees the RFC 3875 meta-variables and nothing else', () => {
  const r = request('/env/some/where?a=1&b=x%20y', ['-H', 'X-Demo: yes', '-H', 'X-Demo: again',
    '-H', 'Authorization: Bearer secret', '-H', 'Proxy: http://evil']);
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
  const env = envOf(r.body);
  assert.equal(env.GATEWAY_INTERFACE, 'CGI/1.1');
  assert.equal(env.REQUEST_METHOD, 'GET');
  assert.equal(env.SCRIPT_NAME, '/env');
  assert.equal(env.PATH_INFO, '/some/where');
  assert.equal(env.QUERY_STRING, 'a=1&b=x%20y');
  assert.equal(env.SERVER_PORT, String(srv.port));
  assert.equal(env.SERVER_NAME, '127.0.0.1');
  assert.equal(env.SERVER_PROTOCOL, 'HTTP/1.1');
  assert.match(env.SERVER_SOFTWARE, /^online-game\//);
  assert.equal(env.REMOTE_ADDR, '127.0.0.1');
  assert.match(env.REMOTE_PORT, /^\d+$/);
  assert.equal(env.HTTP_X_DEMO, 'yes, again');
  assert.equal(env.HTTP_HOST, `127.0.0.1:${srv.port}`);
  assert.equal(env.PATH, '/usr/bin:/bin');
  for (const hidden of ['CONTENT_LENGTH', 'HTTP_AUTHORIZATION', 'HTTP_PROXY', 'HOME',
    'ONLINE_GAME_SECRET'])
    assert.equal(env[hidden], undefined, hidden);
  assert.doesNotMatch(r.body, /do-not-leak|Bearer/);
});

test('env.sh gets the request body on stdin, Content-Length or chunked', () => {
  const r = request('/env', ['--data-binary', 'name=value&x=1']);
  const env = envOf(r.body);
  assert.equal(env.REQUEST_METHOD, 'POST');
  assert.equal(env.CONTENT_LENGTH, '14');
  assert.equal(env.CONTENT_TYPE, 'application/x-www-form-urlencoded');
  assert.match(r.body, /\nbody:\nname=value&x=1\n$/);

  const chunked = request('/env', ['--data-binary', 'abc'.repeat(1000),
    '-H', 'Transfer-Encoding: chunked', '-H', 'Content-Type: text/plain']);
  assert.equal(chunked.status, 200);
  assert.equal(envOf(chunked.body).CONTENT_LENGTH, '3000');
  assert.ok(chunked.body.includes(`\nbody:\n${'abc'.repeat(1000)}\n`));
});

test('Status and other headers pass through; the server frames the body', async () => {
  const r = request('/status');
  assert.equal(r.status, 418);
  assert.equal(r.headers['x-script'], 'status');
  assert.equal(r.headers['content-type'], 'text/plain');
  assert.equal(r.body, 'short and stout\n');
  assert.equal(r.headers['content-length'], String(r.body.length)); // not the script's 999
  await sleep(100);
  const log = srv.errorLog();
  assert.match(log, /WARN \[conn \d+\] cgi status: stderr: first complaint/);
  assert.match(log, /cgi status: stderr: second complaint/);
});

test('Location alone is a 302 redirect', () => {
  const r = request('/redirect');
  assert.equal(r.status, 302);
  assert.equal(r.headers.location, '/elsewhere');
});

test('malformed or missing output is a 502, explained only in the log', async () => {
  for (const name of ['bad', 'silent']) {
    const r = request(`/${name}`);
    assert.equal(r.status, 502, name);
    assert.doesNotMatch(r.body, /header|not a/);
  }
  await sleep(100);
  assert.match(srv.errorLog(), /cgi bad: malformed output: header line without a colon/);
  assert.match(srv.errorLog(), /cgi silent: malformed output: no output/);
});

test('a script that ignores a large body does not hang the server', () => {
  const big = path.join(srv.dir, 'big.txt');
  fs.writeFileSync(big, 'z'.repeat(900 * 1024));
  const r = request('/deaf', ['--data-binary', `@${big}`, '-H', 'Content-Type: text/plain']);
  assert.equal(r.status, 200);
  assert.equal(r.body, 'not listening\n');
  assert.ok(r.ms < 5000, `took ${r.ms} ms`);
});

test('timeout: 504, the process group is killed, no zombie is left', async () => {
  const r = request('/slow');
  assert.equal(r.status, 504);
  assert.ok(r.ms >= 900 && r.ms < 5000, `took ${r.ms} ms with --cgi-timeout 1`);
  assert.match(srv.errorLog(), /cgi slow: killed after the 1000 ms timeout/);
  assert.deepEqual(childrenOf(srv.pid), []);
  const grandchild = Number(fs.readFileSync(path.join(srv.cgiDir, 'slow.grandchild.pid'), 'utf8'));
  assert.ok(grandchild > 0);
  for (let i = 0; i < 100 && running(grandchild); i++) await sleep(20);
  assert.equal(running(grandchild), false, 'the script\'s own child survived');
  assert.equal(request('/env').status, 200); // still serving
});

test('many scripts at once: all answered, all reaped', async () => {
  const runs = Array.from({ length: 12 }, (_, i) =>
    fetch(`${srv.url}/env/${i}?n=${i}`).then(async (res) => [res.status, await res.text(), i]));
  for (const [status, body, i] of await Promise.all(runs)) {
    assert.equal(status, 200);
    assert.equal(envOf(body).PATH_INFO, `/${i}`);
  }
  assert.deepEqual(childrenOf(srv.pid), []);
});

test('which file runs: modules first, executables only, no build products', () => {
  const put = (name, text, mode) => {
    fs.writeFileSync(path.join(srv.cgiDir, name), text);
    fs.chmodSync(path.join(srv.cgiDir, name), mode);
  };
  const script = (text) => `#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n${text}\\n'\n`;
  put('hello.sh', script('script'), 0o755);      // hello.so wins
  assert.match(request('/hello').body, /"greeting"/);
  put('notes.txt', script('notes'), 0o644);      // not executable
  assert.equal(request('/notes').status, 404);
  put('build.c', script('source'), 0o755);       // .c is never run
  put('build.so.bak', script('backup'), 0o755);  // two extensions
  assert.equal(request('/build').status, 404);
  put('pick.py', script('py'), 0o755);           // byte order: .py < .sh
  put('pick.sh', script('sh'), 0o755);
  assert.equal(request('/pick').body, 'py\n');
  assert.equal(request('/.hidden').status, 404);
  assert.equal(request('/env.sh').status, 404);  // a name, not a file name
});
