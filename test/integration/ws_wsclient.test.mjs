// ws_wsclient.test.mjs - tools/wsclient against a server that breaks the
// framing rules of RFC 6455: a fake server (a raw socket here) completes
// the handshake, sends one bad frame, and records what the client answers.
// The client must fail the connection with close 1002 (1009 for a message
// over its 64 MiB cap), say so, and exit 1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { repoRoot } from './lib/server.mjs';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

// The close code in the first (masked) close frame of buf, or null.
function clientCloseCode(buf) {
  for (let pos = 0; pos + 6 <= buf.length;) {
    const opcode = buf[pos] & 0x0f;
    let len = buf[pos + 1] & 0x7f, h = 2;
    if (len === 126) { len = buf.readUInt16BE(pos + 2); h = 4; }
    if (len === 127) { len = Number(buf.readBigUInt64BE(pos + 2)); h = 10; }
    const mask = buf.subarray(pos + h, pos + h + 4), body = buf.subarray(pos + h + 4, pos + h + 4 + len);
    if (opcode === 8 && body.length >= 2) return ((body[0] ^ mask[0]) << 8) | (body[1] ^ mask[1]);
    pos += h + 4 + len;
  }
  return null;
}

// Runs wsclient against a fake server that sends `frame` after the 101.
async function runAgainst(frame) {
  let received = Buffer.alloc(0);
  const server = net.createServer((sock) => {
    let head = '';
    sock.on('data', (d) => {
      if (!head.includes('\r\n\r\n')) {
        head += d.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        const key = /Sec-WebSocket-Key: *(\S+)/i.exec(head)[1];
        const accept = crypto.createHash('sha1').update(key + GUID).digest('base64');
        sock.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
                   `Sec-WebSocket-Accept: ${accept}\r\n\r\n`);
        sock.write(frame);
        return;
      }
      received = Buffer.concat([received, d]);
    });
    sock.on('error', () => {});
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const bin = path.join(repoRoot, 'tools/wsclient');
  const p = spawn(bin, [`ws://127.0.0.1:${server.address().port}/x`], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '', err = '';
  p.stdout.on('data', (d) => { out += d; });
  p.stderr.on('data', (d) => { err += d; });
  const timer = setTimeout(() => p.kill(), 10000);
  const code = await new Promise((resolve) => p.on('close', resolve));
  clearTimeout(timer);
  server.close();
  return { code, out, err, closeCode: clientCloseCode(received) };
}

const cases = [
  ['a masked frame', Buffer.from([0x81, 0x82, 1, 2, 3, 4, 0x68 ^ 1, 0x69 ^ 2]), 1002, /masked/],
  ['RSV1 set', Buffer.from([0xc1, 0x02, 0x68, 0x69]), 1002, /RSV/],
  ['RSV3 set on a ping', Buffer.from([0x99, 0x00]), 1002, /RSV/],
  ['reserved data opcode 3', Buffer.from([0x83, 0x00]), 1002, /reserved opcode/],
  ['reserved control opcode 0xB', Buffer.from([0x8b, 0x00]), 1002, /reserved opcode/],
  ['a fragmented ping', Buffer.from([0x09, 0x00]), 1002, /control/],
  ['a continuation with no message', Buffer.from([0x80, 0x01, 0x61]), 1002, /continuation/],
  ['a 100 MiB message header', Buffer.from([0x82, 0x7f, 0, 0, 0, 0, 0x06, 0x40, 0, 0]), 1009, /64 MiB/],
];

for (const [name, frame, expected, why] of cases) {
  test(`tools/wsclient fails the connection on ${name} with ${expected}`, { timeout: 20000 }, async () => {
    const r = await runAgainst(frame);
    assert.equal(r.code, 1, r.err);
    assert.equal(r.out, `closed ${expected}\n`);
    assert.match(r.err, why);
    assert.equal(r.closeCode, expected);
  });
}

test('tools/wsclient still prints a valid message, fragmented or not', { timeout: 20000 }, async () => {
  const r = await runAgainst(Buffer.concat([
    Buffer.from([0x81, 0x02, 0x68, 0x69]),             // "hi"
    Buffer.from([0x01, 0x01, 0x61, 0x89, 0x00]),       // "a", then a ping in between
    Buffer.from([0x80, 0x01, 0x62]),                   // "b": "ab"
    Buffer.from([0x88, 0x02, 0x03, 0xe8]),             // close 1000
  ]));
  assert.equal(r.out, 'hi\nab\nclosed 1000\n');
  assert.equal(r.code, 0, r.err);
});
