// server.mjs - starts the real online-game binary for an integration test.
//
//   const srv = await startServer({ args: ['--max-conns', '50'] });
//   ... talk to http://127.0.0.1:${srv.port} ...
//   await srv.stop();            // SIGTERM, waits, returns the exit code
//
// Each server gets a fresh temporary directory holding www/ (a copy of the
// repository's www/ unless `www` files are given), cgi-bin/ (links to the
// repository's built modules and scripts unless `cgiBin` is false) and logs/,
// and listens on a free port (--port 0 --port-file).
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const serverBin = process.env.ONLINE_GAME_BIN || path.join(repoRoot, 'online-game');
// Sanitizer builds run several times slower: time limits that measure
// promptness (not correctness) are multiplied by this.
export const slowFactor = /\/build\/(asan|tsan)\//.test(serverBin) ? 10 : 1;

function copyDir(from, to) {
  fs.mkdirSync(to, { recursive: true });
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    const a = path.join(from, e.name), b = path.join(to, e.name);
    if (e.isDirectory()) copyDir(a, b); else fs.copyFileSync(a, b);
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function startServer(opts = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'og-test-'));
  const www = path.join(dir, 'www');
  if (opts.www) {
    fs.mkdirSync(www, { recursive: true });
    for (const [name, body] of Object.entries(opts.www)) {
      fs.mkdirSync(path.dirname(path.join(www, name)), { recursive: true });
      fs.writeFileSync(path.join(www, name), body);
    }
  } else {
    copyDir(path.join(repoRoot, 'www'), www);
  }
  const cgi = path.join(dir, 'cgi-bin');
  fs.mkdirSync(cgi);
  if (opts.cgiBin !== false) {
    for (const f of fs.readdirSync(path.join(repoRoot, 'cgi-bin'))) {
      if (f.endsWith('.c') || f.endsWith('.md')) continue;
      fs.copyFileSync(path.join(repoRoot, 'cgi-bin', f), path.join(cgi, f));
      fs.chmodSync(path.join(cgi, f), fs.statSync(path.join(repoRoot, 'cgi-bin', f)).mode);
    }
  }
  fs.mkdirSync(path.join(dir, 'logs'));
  const portFile = path.join(dir, 'port');
  const args = ['--port', '0', '--port-file', portFile, '--bind', opts.bind ?? '127.0.0.1',
    '--root', www, '--cgi-dir', cgi,
    '--access-log', path.join(dir, 'logs/access.log'),
    '--error-log', path.join(dir, 'logs/error.log'),
    ...(opts.args || [])];
  const child = spawn(serverBin, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...(opts.env || {}) } });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(signal ? 128 : code)));
  let port = 0;
  for (let i = 0; i < 200 && !port; i++) {
    if (child.exitCode !== null) break;
    try { port = parseInt(fs.readFileSync(portFile, 'utf8'), 10) || 0; } catch { /* not yet */ }
    if (!port) await sleep(25);
  }
  if (!port) {
    child.kill('SIGKILL');
    throw new Error(`server did not start: ${output}`);
  }
  const srv = {
    dir, www, cgiDir: cgi, port, child, pid: child.pid,
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    accessLog: () => readOr(path.join(dir, 'logs/access.log')),
    errorLog: () => readOr(path.join(dir, 'logs/error.log')),
    async stop(signal = 'SIGTERM', timeoutMs = 15000) {
      if (child.exitCode === null) child.kill(signal);
      const code = await Promise.race([exited, new Promise((r) => setTimeout(r, timeoutMs, 'timeout').unref())]);
      if (code === 'timeout') { child.kill('SIGKILL'); await exited; }
      if (!process.env.KEEP_TEST_DIRS) fs.rmSync(dir, { recursive: true, force: true });
      return code;
    },
    exited,
  };
  return srv;
}

function readOr(file) {
  try { return fs.readFileSync(file, 'utf8'); } catch { return ''; }
}

// Runs curl with the given arguments; returns { status, stdout, stderr }.
export function curl(args, opts = {}) {
  try {
    const stdout = execFileSync('curl', ['-sS', ...args], { encoding: opts.encoding || 'utf8', timeout: opts.timeout || 20000, maxBuffer: 64 << 20 });
    return { status: 0, stdout, stderr: '' };
  } catch (e) {
    return { status: e.status ?? 1, stdout: e.stdout, stderr: String(e.stderr) };
  }
}

// curl -i against baseUrl + urlPath; returns { status, headers (lower-case
// names), body, ms }. An interim "100 Continue" response is skipped.
export function curlResponse(baseUrl, urlPath, args = [], opts = { timeout: 30000 }) {
  const t0 = Date.now();
  const r = curl(['-i', ...args, `${baseUrl}${urlPath}`], opts);
  if (r.status !== 0) throw new Error(`curl failed: ${r.stderr}`);
  let raw = r.stdout;
  let head, body;
  for (;;) {
    const end = raw.indexOf('\r\n\r\n');
    head = raw.slice(0, end);
    body = raw.slice(end + 4);
    if (!/^HTTP\/1\.1 1\d\d/.test(head)) break;
    raw = body;
  }
  const lines = head.split('\r\n');
  const headers = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: Number(lines[0].split(' ')[1]), headers, body, ms: Date.now() - t0 };
}

// Sends raw bytes on a TCP socket and collects everything until the peer
// closes or `idleMs` passes without data. Returns the response as a string.
import net from 'node:net';
export function rawRequest(port, chunks, { idleMs = 1000, delayMs = 0 } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    let timer;
    const finish = () => { clearTimeout(timer); sock.destroy(); resolve(data.toString('latin1')); };
    const arm = () => { clearTimeout(timer); timer = setTimeout(finish, idleMs); };
    sock.on('data', (d) => { data = Buffer.concat([data, d]); arm(); });
    sock.on('end', finish);
    sock.on('error', (e) => (data.length ? finish() : reject(e)));
    sock.on('connect', async () => {
      arm();
      for (const c of [].concat(chunks)) {
        sock.write(c);
        if (delayMs) await sleep(delayMs);
      }
    });
  });
}

export { sleep };
