// faults.test.mjs - the server under conditions it cannot prevent: too
// many clients, no file descriptors left, a CGI script that never ends, a
// route module replaced under load, a full disk for the logs. In each case
// it must keep serving (or refuse cleanly) and recover on its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startServer, curl, sleep } from './lib/server.mjs';
import { threadCount, cpuSeconds, processesInGroup } from '../soak/procstat.mjs';

// Opens n raw connections that send nothing; resolves once all connected.
function openIdle(port, n) {
  return Promise.all(Array.from({ length: n }, () => new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  })));
}

function closeAll(sockets) {
  for (const s of sockets) s.destroy();
}

async function waitFor(pred, ms, what) {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const statusOf = (url, extra = []) =>
  curl(['-o', '/dev/null', '-w', '%{http_code}', '--max-time', '10', ...extra, url]).stdout;

test('--max-conns reached: the next client gets 503 at once, then service recovers', async () => {
  const srv = await startServer({ args: ['--max-conns', '5', '--header-timeout', '30'] });
  try {
    const base = threadCount(srv.pid);
    const idle = await openIdle(srv.port, 5);
    await waitFor(() => threadCount(srv.pid) >= base + 5, 5000, 'five connection threads');

    const started = Date.now();
    assert.equal(statusOf(`${srv.url}/index.html`), '503');
    assert.ok(Date.now() - started < 2000, 'the 503 comes without waiting');
    const refused = curl(['-si', '--max-time', '10', `${srv.url}/`]).stdout;
    assert.match(refused, /^Retry-After: 1/mi);

    closeAll(idle);
    await waitFor(() => threadCount(srv.pid) <= base, 5000, 'the idle connections to end');
    assert.equal(statusOf(`${srv.url}/index.html`), '200');
    assert.match(srv.errorLog(), /503: --max-conns reached/);
  } finally {
    await srv.stop();
  }
});

test('out of file descriptors: accept backs off without spinning and recovers', async (t) => {
  const srv = await startServer({ args: ['--header-timeout', '30'] });
  try {
    // Lower the running server's descriptor limit (prlimit(1), util-linux).
    execFileSync('prlimit', ['--pid', String(srv.pid), '--nofile=64:64']);
    const hogs = await openIdle(srv.port, 100);   // more than 64
    await sleep(500);

    // A client arriving now waits in the backlog...
    const pending = new Promise((resolve) => {
      const s = net.connect(srv.port, '127.0.0.1', () =>
        s.write('GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      let data = '';
      s.on('data', (d) => { data += d; });
      s.on('close', () => resolve(data));
      s.on('error', () => resolve(data));
    });

    // ...and the server is not busy-looping on accept meanwhile.
    const cpu0 = cpuSeconds(srv.pid);
    await sleep(2000);
    const cpu = cpuSeconds(srv.pid) - cpu0;
    t.diagnostic(`CPU used in 2 s while out of descriptors: ${cpu.toFixed(2)} s`);
    assert.ok(cpu < 0.3, `server used ${cpu.toFixed(2)} s of CPU in 2 s while out of fds`);
    assert.match(srv.errorLog(), /accept: Too many open files; backing off/);

    // When the hogs leave, the waiting client is served.
    closeAll(hogs);
    const response = await Promise.race([pending, sleep(10000).then(() => 'timeout')]);
    assert.match(response, /^HTTP\/1\.1 200 /);
    assert.equal(statusOf(`${srv.url}/index.html`), '200');
  } finally {
    await srv.stop();
  }
});

test('a CGI script that forks a hanging child is killed with its whole process group', async () => {
  const srv = await startServer({ args: ['--cgi-timeout', '1'] });
  try {
    const pidFile = path.join(srv.dir, 'hang.pids');
    // The child keeps the script's stdout open, so the output never ends.
    fs.writeFileSync(path.join(srv.cgiDir, 'hang.sh'),
      `#!/bin/sh\nsleep 300 &\necho "$$ $!" > ${pidFile}\nexec sleep 300\n`, { mode: 0o755 });

    const started = Date.now();
    assert.equal(statusOf(`${srv.url}/hang`), '504');
    assert.ok(Date.now() - started < 5000, 'answered after about --cgi-timeout');

    const [script, child] = fs.readFileSync(pidFile, 'utf8').trim().split(' ').map(Number);
    const alive = (pid) => {
      try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'; // a zombie is dead
      } catch { return false; }
    };
    await waitFor(() => !alive(script) && !alive(child), 3000, 'the script and its child to die');
    assert.deepEqual(processesInGroup(script).filter(alive), [], 'nothing left in its process group');
    assert.equal(statusOf(`${srv.url}/index.html`), '200');
  } finally {
    await srv.stop();
  }
});

test('a route module replaced on disk under load never crashes the server', async (t) => {
  const srv = await startServer();
  try {
    const hello = path.join(srv.cgiDir, 'hello.so');
    const versions = [fs.readFileSync(hello), fs.readFileSync(path.join(srv.cgiDir, 'time.so'))];
    const statuses = {};
    let requests = 0;
    let stop = false;

    const client = async () => {
      while (!stop) {
        const res = await fetch(`${srv.url}/hello`);
        await res.arrayBuffer();
        statuses[res.status] = (statuses[res.status] || 0) + 1;
        requests++;
      }
    };
    const replacer = async () => {
      for (let i = 0; !stop; i++) {
        const bytes = versions[i % 2];
        if (i % 3 === 2) {
          fs.writeFileSync(hello, bytes);          // in place: truncate, then write
        } else {
          const tmp = `${hello}.tmp`;              // the safe way: rename over it
          fs.writeFileSync(tmp, bytes);
          fs.renameSync(tmp, hello);
        }
        await sleep(5);
      }
    };
    const deadline = Date.now() + 15000;
    const load = Promise.all([replacer(), ...Array.from({ length: 8 }, client)]);
    await waitFor(() => requests >= 3000 || Date.now() > deadline, 20000, 'the requests');
    stop = true;
    await load;

    t.diagnostic(`${requests} requests during the replacements: ${JSON.stringify(statuses)}`);
    assert.equal(srv.child.exitCode, null, 'the server is still running');
    assert.ok(requests >= 1000, `only ${requests} requests`);
    const ok = statuses[200] || 0;
    assert.ok(ok > requests / 2, `statuses: ${JSON.stringify(statuses)}`);
    for (const code of Object.keys(statuses))
      assert.ok(code === '200' || code >= '500', `unexpected status ${code}`);

    // The last version written is the one served.
    fs.writeFileSync(`${hello}.tmp`, versions[0]);
    fs.renameSync(`${hello}.tmp`, hello);
    assert.match(curl([`${srv.url}/hello`]).stdout, /"greeting"/);
  } finally {
    await srv.stop();
  }
});

test('a full disk for the access log: the server keeps serving and says so once', async () => {
  const srv = await startServer({ args: ['--access-log', '/dev/full'] });
  try {
    for (let i = 0; i < 20; i++) assert.equal(statusOf(`${srv.url}/index.html`), '200');
    await sleep(200);
    const said = srv.errorLog().split('\n').filter((l) => /writing a log failed/.test(l));
    assert.equal(said.length, 1, srv.errorLog());
    assert.match(said[0], /No space left on device/);
  } finally {
    await srv.stop();
  }
});
