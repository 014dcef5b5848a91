// procstat.mjs - what the soak and fault tests watch in the server process,
// read from /proc (Linux): thread count, open file descriptors, resident
// memory and CPU time. Each function returns null once the process is gone.
import fs from 'node:fs';

function readOrNull(file) {
  try { return fs.readFileSync(file, 'utf8'); } catch { return null; }
}

function statusField(pid, name) {
  const text = readOrNull(`/proc/${pid}/status`);
  const m = text && text.match(new RegExp(`^${name}:\\s*(\\d+)`, 'm'));
  return m ? Number(m[1]) : null;
}

// Threads of the process (the "Threads:" line).
export const threadCount = (pid) => statusField(pid, 'Threads');

// Resident set size in KiB ("VmRSS:").
export const rssKiB = (pid) => statusField(pid, 'VmRSS');

// Open file descriptors (entries of /proc/PID/fd).
export function fdCount(pid) {
  try { return fs.readdirSync(`/proc/${pid}/fd`).length; } catch { return null; }
}

// What the open descriptors are ("socket:[123]" -> "socket"), for a
// message when they do not return to the baseline.
export function fdKinds(pid) {
  const kinds = {};
  let names = [];
  try { names = fs.readdirSync(`/proc/${pid}/fd`); } catch { return kinds; }
  for (const n of names) {
    let target = '?';
    try { target = fs.readlinkSync(`/proc/${pid}/fd/${n}`); } catch { /* closed meanwhile */ }
    const kind = target.startsWith('/') ? 'file' : target.replace(/[:[].*$/, '');
    kinds[kind] = (kinds[kind] || 0) + 1;
  }
  return kinds;
}

// User + system CPU time in seconds (fields 14 and 15 of /proc/PID/stat,
// counted after the parenthesised command name, which may hold spaces).
export function cpuSeconds(pid) {
  const text = readOrNull(`/proc/${pid}/stat`);
  if (!text) return null;
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  return ticks / 100; // USER_HZ is 100 on Linux
}

// Every process whose process group is pgid (from /proc/*/stat).
export function processesInGroup(pgid) {
  const pids = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const text = readOrNull(`/proc/${name}/stat`);
    if (!text) continue;
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid) pids.push(Number(name));
  }
  return pids;
}

export function snapshot(pid) {
  return { threads: threadCount(pid), fds: fdCount(pid), rssKiB: rssKiB(pid) };
}
