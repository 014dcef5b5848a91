// soak.mjs - runs thousands of clients against the real server for a
// bounded time, then checks it gave back everything it took.
//
//   node test/soak/soak.mjs            (make soak SOAK_SECONDS=60,
//                                        make soak-short: 30 s for CI)
//
// Settings (environment): SOAK_SECONDS (60), SOAK_HOLD (1000 WebSocket
// connections held open for the whole run), SOAK_CLIENTS (150 clients
// churning at once), ONLINE_GAME_BIN (./online-game), SOAK_RSS_MB (64:
// allowed RSS growth), all on 127.0.0.1.
//
// Phases:
//   1. start the server (test/integration/lib/server.mjs) with short
//      timeouts, warm it up with one client of each kind, and record the
//      baseline: threads, open fds, RSS (/proc/PID);
//   2. open SOAK_HOLD WebSocket connections to /echo and keep them: each
//      sends a message every few seconds and must get it back;
//   3. SOAK_CLIENTS loops run random scenarios from clients.mjs (valid
//      HTTP, route module, CGI, WebSocket echo and chat, malformed bytes,
//      half-open, reset, slow readers and writers) until the time is up;
//   4. close everything; within a few seconds the server's threads and
//      fds must be back at the baseline, it must still answer, and its
//      RSS must not have grown by more than SOAK_RSS_MB.
// Exit status 0 when all checks pass; the figures are printed either way.
import fs from 'node:fs';
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { startServer } from '../integration/lib/server.mjs';
import { snapshot, fdKinds } from './procstat.mjs';
import * as clients from './clients.mjs';

const { scenarios, wsOpen, wsNext, wsClose, sleep, httpOnce, get } = clients;

const seconds = Number(process.env.SOAK_SECONDS || 60);
const holdCount = Number(process.env.SOAK_HOLD || 1000);
const churners = Number(process.env.SOAK_CLIENTS || 150);
const rssLimitMiB = Number(process.env.SOAK_RSS_MB || 64);
const settleMs = 10000;

const ctx = {
  headerTimeoutMs: 3000, writeTimeoutMs: 2000,
  indexSize: 0, bigSize: 8 << 20, cgiSlots: 4, cgiRunning: 0,
};
const failures = [];
const fail = (msg) => { failures.push(msg); console.log(`FAIL: ${msg}`); };

// ---- phase 1: server and baseline -------------------------------------------

const indexHtml = fs.readFileSync(new URL('../../www/index.html', import.meta.url));
ctx.indexSize = indexHtml.length;
const srv = await startServer({
  www: { 'index.html': indexHtml, 'big.bin': crypto.randomBytes(ctx.bigSize) },
  args: ['--header-timeout', '3', '--keepalive-timeout', '3', '--write-timeout', '2',
    '--max-conns', String(holdCount + churners * 2 + 200), '--log-level', 'warn'],
});
const pid = srv.pid;
console.log(`soak: server pid ${pid} on port ${srv.port}; ${seconds}s, ` +
  `${holdCount} held, ${churners} churning clients`);

async function runScenario(name) {
  const [fn] = scenarios[name];
  return fn(srv.port, ctx);
}

for (const name of Object.keys(scenarios)) {
  if (name === 'halfOpen' || name === 'slowReader') continue; // slow, and not needed
  try { await runScenario(name); } catch (e) { fail(`warm-up ${name}: ${e.message}`); }
}
await sleep(1000);
const baseline = snapshot(pid);
console.log(`baseline: ${baseline.threads} threads, ${baseline.fds} fds, ` +
  `${(baseline.rssKiB / 1024).toFixed(1)} MiB RSS`);

// ---- sampling ---------------------------------------------------------------

const peak = { threads: 0, fds: 0, rssKiB: 0 };
const sampler = setInterval(() => {
  const s = snapshot(pid);
  if (s.threads === null) return;
  for (const k of Object.keys(peak)) peak[k] = Math.max(peak[k], s[k]);
}, 250);

// ---- phase 2: held connections -----------------------------------------------

const held = [];
let heldEchoes = 0;
let heldLost = 0;
for (let i = 0; i < holdCount; i += 50) {
  const batch = [];
  for (let k = i; k < Math.min(holdCount, i + 50); k++) batch.push(wsOpen(srv.port, '/echo'));
  for (const r of await Promise.allSettled(batch)) {
    if (r.status === 'fulfilled') held.push(r.value);
    else fail(`held connection: ${r.reason.message}`);
  }
}
for (const ws of held) ws.on('close', () => { if (!ws.soakClosing) heldLost++; });
console.log(`holding ${held.length} WebSocket connections`);

async function heldRound(round) {
  await Promise.all(held.map(async (ws, i) => {
    if (ws.readyState !== ws.OPEN) return;
    const text = `held ${i} round ${round}`;
    const back = wsNext(ws, (d) => d.toString() === text, `held echo ${i}`);
    ws.send(text);
    try { await back; heldEchoes++; } catch (e) { fail(`held connection ${i}: ${e.message}`); }
  }));
}

// ---- phase 3: churn -----------------------------------------------------------

const stats = {};
for (const name of Object.keys(scenarios)) stats[name] = { ok: 0, failed: 0, bytes: 0 };
const weighted = Object.entries(scenarios).flatMap(([name, [, w]]) => Array(w).fill(name));
const deadline = Date.now() + seconds * 1000;

async function churnLoop() {
  while (Date.now() < deadline) {
    const name = weighted[crypto.randomInt(weighted.length)];
    try {
      const r = await runScenario(name);
      stats[name].ok++;
      stats[name].bytes += (r.bytesIn || 0) + (r.bytesOut || 0);
    } catch (e) {
      stats[name].failed++;
      if (stats[name].failed <= 3) console.log(`  ${name}: ${e.message}`);
    }
  }
}

const heldLoop = (async () => {
  for (let round = 0; Date.now() < deadline - 3000; round++) {
    await heldRound(round);
    await sleep(3000);
  }
})();
await Promise.all([heldLoop, ...Array.from({ length: churners }, churnLoop)]);
const during = snapshot(pid);

// ---- phase 4: close everything and check ------------------------------------------

const heldOpen = held.filter((ws) => ws.readyState === ws.OPEN).length;
if (heldLost > 0) fail(`${heldLost} held connections were closed by the server`);
for (const ws of held) ws.soakClosing = true;
await Promise.all(held.map(wsClose));

let after = snapshot(pid);
const settleStart = Date.now();
while (Date.now() - settleStart < settleMs &&
       (after.threads !== baseline.threads || after.fds !== baseline.fds)) {
  await sleep(200);
  after = snapshot(pid);
}
const settledIn = Date.now() - settleStart;
clearInterval(sampler);

try {
  const r = await httpOnce(srv.port, get('/index.html'));
  if (r.res.status !== 200) fail(`after the soak GET /index.html gave ${r.res.status}`);
} catch (e) {
  fail(`after the soak the server does not answer: ${e.message}`);
}
if (after.threads !== baseline.threads)
  fail(`threads ${after.threads} after ${settleMs / 1000}s, baseline ${baseline.threads}`);
if (after.fds !== baseline.fds)
  fail(`open fds ${after.fds} after ${settleMs / 1000}s, baseline ${baseline.fds}: ${JSON.stringify(fdKinds(pid))}`);
if (after.threads !== baseline.threads || after.fds !== baseline.fds) showStuckThreads(pid);
const growthMiB = (after.rssKiB - baseline.rssKiB) / 1024;
if (growthMiB > rssLimitMiB) fail(`RSS grew by ${growthMiB.toFixed(1)} MiB (limit ${rssLimitMiB})`);

// Where the threads that did not finish are waiting (needs gdb).
function showStuckThreads(p) {
  const r = spawnSync('gdb', ['-p', String(p), '-batch', '-ex', 'thread apply all bt 12'],
    { encoding: 'utf8', timeout: 30000 });
  if (r.error) return console.log(`(no gdb: ${r.error.message})`);
  console.log(r.stdout.split('\n').filter((l) => /^Thread|^#/.test(l)).join('\n'));
}

// ---- report ----------------------------------------------------------------------

let churned = 0;
let validFailed = 0;
let bytes = 0;
console.log('\nscenario        ok  failed  MiB moved');
for (const [name, s] of Object.entries(stats)) {
  churned += s.ok + s.failed;
  bytes += s.bytes;
  if (scenarios[name][2]) validFailed += s.failed;
  console.log(`${name.padEnd(14)} ${String(s.ok).padStart(5)} ${String(s.failed).padStart(6)}` +
    `  ${(s.bytes / 1048576).toFixed(1).padStart(8)}`);
}
if (validFailed > 0) fail(`${validFailed} valid clients failed`);
const mib = (k) => (k / 1024).toFixed(1);
console.log(`
connections held:  ${held.length} WebSocket (${heldOpen} still open at the end, ${heldEchoes} echoes)
clients churned:   ${churned} in ${seconds}s (${(churned / seconds).toFixed(0)}/s), ${(bytes / 1048576).toFixed(0)} MiB
threads:           baseline ${baseline.threads}, peak ${peak.threads}, end of load ${during.threads}, after ${after.threads}
open fds:          baseline ${baseline.fds}, peak ${peak.fds}, end of load ${during.fds}, after ${after.fds}
RSS (MiB):         baseline ${mib(baseline.rssKiB)}, peak ${mib(peak.rssKiB)}, after ${mib(after.rssKiB)} (growth ${growthMiB.toFixed(1)}, limit ${rssLimitMiB})
back to baseline:  in ${(settledIn / 1000).toFixed(1)}s`);

const errors = srv.errorLog().split('\n').filter((l) => / ERROR /.test(l));
if (errors.length) console.log(`error log: ${errors.length} ERROR lines, first: ${errors[0]}`);
const code = await srv.stop();
if (code !== 0) fail(`the server exited with ${code} on SIGTERM`);
console.log(failures.length ? `\nsoak: FAILED (${failures.length})` : '\nsoak: passed');
process.exit(failures.length ? 1 : 0);
