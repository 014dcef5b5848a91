// server.test.mjs - the executable as a user meets it: --help, --version,
// bad options (exit 2), the JSON config file, listening on IPv4 and IPv6,
// SIGHUP reopening the logs, and a clean exit on SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startServer, curl, serverBin, sleep } from './lib/server.mjs';

function run(args) {
  return spawnSync(serverBin, args, { encoding: 'utf8', timeout: 10000 });
}

test('--help lists the options and exits 0', () => {
  const r = run(['--help']);
  assert.equal(r.status, 0);
  for (const opt of ['--port', '--root', '--max-conns', '--header-timeout', '--body-timeout', '--min-rate', '--config'])
    assert.match(r.stdout, new RegExp(opt));
});

test('--version prints the version and exits 0', () => {
  const r = run(['--version']);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^online-game \d+\.\d+\.\d+/);
});

test('a bad option or value prints a clear message and exits 2', () => {
  for (const args of [['--bogus'], ['--port', 'eighty'], ['--port', '99999'], ['--max-conns'],
    ['--log-level', 'loud'], ['stray-argument']]) {
    const r = run(args);
    assert.equal(r.status, 2, `exit status for ${args.join(' ')}`);
    assert.match(r.stderr, /online-game: /, `message for ${args.join(' ')}`);
  }
});

test('--config reads JSON settings; the command line wins', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'og-cfg-'));
  fs.writeFileSync(path.join(dir, 'a.json'), JSON.stringify({ 'max-uri-size': 100, 'max-header-size': 4096 }));
  const srv = await startServer({ args: ['--config', path.join(dir, 'a.json'), '--max-header-size', '2048'], www: { 'index.html': 'hi' } });
  try {
    const longUri = curl(['-o', '/dev/null', '-w', '%{http_code}', `${srv.url}/${'a'.repeat(200)}`]);
    assert.equal(longUri.stdout, '414');
    const bigHead = curl(['-o', '/dev/null', '-w', '%{http_code}', '-H', `X-Big: ${'b'.repeat(3000)}`, `${srv.url}/`]);
    assert.equal(bigHead.stdout, '431'); // 2048 from the command line, not 4096 from the file
  } finally {
    assert.equal(await srv.stop(), 0);
  }
  fs.writeFileSync(path.join(dir, 'bad.json'), '{"port": ');
  const bad = run(['--config', path.join(dir, 'bad.json')]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /bad\.json/);
  fs.rmSync(dir, { recursive: true });
});

// True if this host can listen on ::1 (IPv6 loopback configured).
function hostHasIPv6() {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(0, '::1', () => probe.close(() => resolve(true)));
  });
}

test('serves on IPv6 and IPv4 when bound to all interfaces', async (t) => {
  const srv = await startServer({ bind: '', www: { 'index.html': 'dual stack' } });
  try {
    assert.equal(curl([`http://127.0.0.1:${srv.port}/`]).stdout, 'dual stack');
    if (!(await hostHasIPv6())) {
      t.skip('this host has no IPv6 loopback');
      return;
    }
    const v6 = curl(['-g', `http://[::1]:${srv.port}/`]);
    assert.equal(v6.status, 0, `IPv6 request failed: ${v6.stderr}`);
    assert.equal(v6.stdout, 'dual stack');
  } finally {
    assert.equal(await srv.stop(), 0);
  }
});

test('SIGHUP reopens the logs (logrotate)', async () => {
  const srv = await startServer({ www: { 'index.html': 'x' } });
  try {
    curl([`${srv.url}/?before`]);
    const log = path.join(srv.dir, 'logs/access.log');
    fs.renameSync(log, log + '.1');
    process.kill(srv.pid, 'SIGHUP');
    await sleep(200);
    curl([`${srv.url}/?after`]);
    assert.match(fs.readFileSync(log + '.1', 'utf8'), /GET \/\?before/);
    assert.match(fs.readFileSync(log, 'utf8'), /GET \/\?after/);
    assert.doesNotMatch(fs.readFileSync(log, 'utf8'), /before/);
    assert.match(srv.errorLog(), /logs reopened/);
  } finally {
    assert.equal(await srv.stop(), 0);
  }
});

test('access log lines are in Combined Log Format', async () => {
  const srv = await startServer({ www: { 'index.html': 'x' } });
  try {
    curl(['-A', 'tester "quoted"', '-e', 'http://ref.example/', `${srv.url}/index.html`]);
    await sleep(50);
    const line = srv.accessLog().trim().split('\n').pop();
    assert.match(line, /^127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET \/index\.html HTTP\/1\.1" 200 1 "http:\/\/ref\.example\/" "tester \\x22quoted\\x22"$/);
  } finally {
    assert.equal(await srv.stop(), 0);
  }
});

test('SIGTERM closes idle keep-alive connections and exits 0 at once', async () => {
  const srv = await startServer({ www: { 'index.html': 'x' }, args: ['--keepalive-timeout', '60'] });
  const net = await import('node:net');
  const sock = net.connect(srv.port, '127.0.0.1');
  await new Promise((r) => sock.on('connect', r));
  sock.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await new Promise((r) => sock.once('data', r));
  const closed = new Promise((r) => sock.on('close', r));
  const t0 = Date.now();
  const code = await srv.stop();
  await closed;
  assert.equal(code, 0);
  assert.ok(Date.now() - t0 < 3000, 'shutdown did not wait for the idle connection');
});
