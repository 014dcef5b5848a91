// ws_conformance.test.mjs - RFC 6455 conformance of the real server's /echo
// endpoint, in the spirit of the Autobahn TestSuite's sections 1-7, 9 and 10.
//
// The client here is written on raw node:net sockets, so a test can send
// exactly the bytes it wants: reserved bits, reserved opcodes, bad
// fragment sequences, invalid UTF-8, frames cut into tiny pieces. Every
// failure case checks the close code the server sends and that the server
// then closes the TCP connection.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import { startServer, sleep } from './lib/server.mjs';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const OP = { CONT: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 };
const WAIT_MS = 5000;

// ---- frames ----------------------------------------------------------

// A client frame: masked unless mask is false; `len` may lie about the
// payload length (to announce a size without sending it).
function frame(opcode, payload = Buffer.alloc(0), { fin = true, rsv = 0, mask = true, len } = {}) {
  payload = Buffer.from(payload);
  const n = len ?? payload.length;
  let head;
  if (n <= 125) {
    head = Buffer.from([0, n]);
  } else if (n <= 0xffff) {
    head = Buffer.alloc(4);
    head[1] = 126;
    head.writeUInt16BE(n, 2);
  } else {
    head = Buffer.alloc(10);
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  head[0] = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  if (!mask) return Buffer.concat([head, payload]);
  head[1] |= 0x80;
  const key = crypto.randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
  return Buffer.concat([head, key, body]);
}

function closePayload(code, reason = '') {
  const r = Buffer.isBuffer(reason) ? reason : Buffer.from(reason);
  const b = Buffer.alloc(2 + r.length);
  b.writeUInt16BE(code, 0);
  r.copy(b, 2);
  return b;
}

// ---- a raw WebSocket client -------------------------------------------

class RawClient {
  constructor(sock, rest) {
    this.sock = sock;
    this.buf = rest;
    this.frames = [];
    this.waiter = null;
    this.closed = false;            // TCP closed by the peer (or reset)
    this.closedWaiters = [];
    sock.on('data', (d) => { this.buf = Buffer.concat([this.buf, d]); this.parse(); });
    const done = () => {
      this.closed = true;
      this.wake();
      for (const w of this.closedWaiters.splice(0)) w();
    };
    sock.on('end', done);
    sock.on('close', done);
    sock.on('error', () => {});     // a reset after close is fine
    this.parse();
  }

  static connect(port, path = '/echo') {
    return new Promise((resolve, reject) => {
      const key = crypto.randomBytes(16).toString('base64');
      const sock = net.connect(port, '127.0.0.1');
      sock.setNoDelay(true);
      let head = Buffer.alloc(0);
      const onData = (d) => {
        head = Buffer.concat([head, d]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        sock.off('data', onData);
        const text = head.subarray(0, end).toString('latin1');
        const accept = crypto.createHash('sha1').update(key + GUID).digest('base64');
        if (!/^HTTP\/1\.1 101 /.test(text)) return reject(new Error(`handshake refused: ${text}`));
        if (!new RegExp(`^sec-websocket-accept: *${accept.replace(/[+/]/g, '\\$&')} *$`, 'mi').test(text))
          return reject(new Error(`bad Sec-WebSocket-Accept: ${text}`));
        resolve(new RawClient(sock, head.subarray(end + 4)));
      };
      sock.on('data', onData);
      sock.on('error', reject);
      sock.on('connect', () => sock.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`));
    });
  }

  // Splits received bytes into server frames (unmasked, RSV 0: checked).
  parse() {
    for (;;) {
      const b = this.buf;
      if (b.length < 2) break;
      let n = b[1] & 0x7f, off = 2;
      if (n === 126) { if (b.length < 4) break; n = b.readUInt16BE(2); off = 4; }
      else if (n === 127) { if (b.length < 10) break; n = Number(b.readBigUInt64BE(2)); off = 10; }
      if (b.length < off + n) break;
      this.frames.push({
        fin: (b[0] & 0x80) !== 0, rsv: (b[0] >> 4) & 7, opcode: b[0] & 0x0f,
        masked: (b[1] & 0x80) !== 0, payload: Buffer.from(b.subarray(off, off + n)),
      });
      this.buf = b.subarray(off + n);
    }
    this.wake();
  }

  wake() { if (this.waiter) { const w = this.waiter; this.waiter = null; w(); } }

  send(...frames) { for (const f of frames) this.sock.write(f); }

  // Writes bytes in pieces of `size`, pausing `delayMs` between them.
  async sendChopped(bytes, size, delayMs = 0) {
    for (let i = 0; i < bytes.length; i += size) {
      this.sock.write(bytes.subarray(i, i + size));
      if (delayMs) await sleep(delayMs);
    }
  }

  // The next frame from the server; null if TCP closed first.
  async nextFrame(timeoutMs = WAIT_MS) {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0) {
      if (this.closed) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a frame');
      await new Promise((r) => { this.waiter = r; setTimeout(r, left); });
    }
    const f = this.frames.shift();
    assert.equal(f.masked, false, 'server frames must not be masked');
    assert.equal(f.rsv, 0, 'server frames must not set RSV bits');
    return f;
  }

  // The next message or control frame: data fragments are joined.
  async next(timeoutMs = WAIT_MS) {
    const first = await this.nextFrame(timeoutMs);
    if (!first || first.opcode >= 8 || first.fin) return first;
    const parts = [first.payload];
    for (;;) {
      const f = await this.nextFrame(timeoutMs);
      assert.ok(f, 'connection closed inside a message');
      if (f.opcode >= 8) continue;      // a server may interleave controls
      assert.equal(f.opcode, OP.CONT);
      parts.push(f.payload);
      if (f.fin) return { ...first, fin: true, payload: Buffer.concat(parts) };
    }
  }

  async expectEcho(opcode, payload) {
    const m = await this.next();
    assert.ok(m, 'connection closed instead of an echo');
    assert.equal(m.opcode, opcode);
    assert.ok(m.payload.equals(Buffer.from(payload)), `echo differs (${m.payload.length} vs ${Buffer.from(payload).length} bytes)`);
  }

  // The server must send a close frame with `code` (null: no code), then
  // close TCP once we answer with our own close frame.
  async expectClose(code, { timeoutMs = WAIT_MS } = {}) {
    const f = await this.next(timeoutMs);
    assert.ok(f, `TCP closed without a close frame (wanted ${code})`);
    assert.equal(f.opcode, OP.CLOSE, `wanted close ${code}, got opcode ${f.opcode}`);
    if (code === null) {
      assert.ok(f.payload.length === 0 || f.payload.readUInt16BE(0) === 1000,
        'a close without a code is answered with no code or 1000');
    } else {
      assert.ok(f.payload.length >= 2, `close frame without a code, wanted ${code}`);
      assert.equal(f.payload.readUInt16BE(0), code);
      // the reason must be UTF-8: a fatal decoder throws otherwise
      new TextDecoder('utf-8', { fatal: true }).decode(f.payload.subarray(2));
    }
    if (!this.sock.destroyed) this.sock.write(frame(OP.CLOSE, f.payload.subarray(0, 2)));
    await this.expectTcpClosed(timeoutMs);
    return f;
  }

  // Nothing but an orderly TCP close may follow.
  async expectTcpClosed(timeoutMs = WAIT_MS) {
    if (!this.closed) {
      await Promise.race([
        new Promise((r) => this.closedWaiters.push(r)),
        sleep(timeoutMs).then(() => { throw new Error('server did not close TCP'); }),
      ]);
    }
    assert.equal(this.frames.length, 0, 'unexpected frames after the close frame');
  }

  destroy() { this.sock.destroy(); }
}

// ---- helpers for the cases --------------------------------------------

let srv, small;
const clients = [];
async function connect(server = srv) {
  const c = await RawClient.connect(server.port);
  clients.push(c);
  return c;
}

// Sends frames, expects the server to fail the connection with `code`.
async function expectFailure(frames, code, { before = [] } = {}) {
  const c = await connect();
  c.send(...frames);
  for (const [op, payload] of before) await c.expectEcho(op, payload);
  await c.expectClose(code);
}

const bytesOf = (s) => Buffer.from(s, 'latin1');
function patternBuf(n, seed = 1) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}
const textOf = (n) => Buffer.from('*'.repeat(n));

before(async () => {
  srv = await startServer();
  small = await startServer({ args: ['--ws-max-message', '1000'] });
});
after(async () => {
  for (const c of clients) c.destroy();
  await srv?.stop();
  await small?.stop();
});

// ---- 1. framing --------------------------------------------------------

describe('1 framing: text and binary echo at every length', () => {
  const sizes = [0, 1, 125, 126, 127, 128, 65535, 65536, 65537, 200000];
  for (const n of sizes) {
    test(`text ${n} bytes`, async () => {
      const c = await connect();
      c.send(frame(OP.TEXT, textOf(n)));
      await c.expectEcho(OP.TEXT, textOf(n));
      c.send(frame(OP.CLOSE, closePayload(1000)));
      await c.expectClose(1000);
    });
    test(`binary ${n} bytes`, async () => {
      const c = await connect();
      c.send(frame(OP.BINARY, patternBuf(n)));
      await c.expectEcho(OP.BINARY, patternBuf(n));
    });
  }
  test('65536 bytes sent in 997-byte chops', async () => {
    const c = await connect();
    await c.sendChopped(frame(OP.TEXT, textOf(65536)), 997);
    await c.expectEcho(OP.TEXT, textOf(65536));
  });
  test('one byte at a time', async () => {
    const c = await connect();
    await c.sendChopped(frame(OP.BINARY, patternBuf(300)), 1, 1);
    await c.expectEcho(OP.BINARY, patternBuf(300));
  });
  test('many frames in one write are all echoed in order', async () => {
    const c = await connect();
    const msgs = Array.from({ length: 200 }, (_, i) => Buffer.from(`message ${i}`));
    c.send(Buffer.concat(msgs.map((m) => frame(OP.TEXT, m))));
    for (const m of msgs) await c.expectEcho(OP.TEXT, m);
  });
  test('unmasked client frame -> 1002', () => expectFailure([frame(OP.TEXT, 'hi', { mask: false })], 1002));
  test('64-bit length with the top bit set -> 1002', async () => {
    const c = await connect();
    const h = Buffer.from([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4]);
    c.send(h);
    await c.expectClose(1002);
  });
});

// ---- 2. ping / pong ------------------------------------------------------

describe('2 ping and pong', () => {
  test('ping without payload -> pong without payload', async () => {
    const c = await connect();
    c.send(frame(OP.PING));
    await c.expectEcho(OP.PONG, Buffer.alloc(0));
  });
  test('ping with text payload', async () => {
    const c = await connect();
    c.send(frame(OP.PING, 'Hello, world!'));
    await c.expectEcho(OP.PONG, 'Hello, world!');
  });
  test('ping with binary 125-byte payload, also chopped', async () => {
    const c = await connect();
    c.send(frame(OP.PING, patternBuf(125)));
    await c.expectEcho(OP.PONG, patternBuf(125));
    await c.sendChopped(frame(OP.PING, patternBuf(125, 9)), 1);
    await c.expectEcho(OP.PONG, patternBuf(125, 9));
  });
  test('ping with 126-byte payload -> 1002', () => expectFailure([frame(OP.PING, patternBuf(126))], 1002));
  test('unsolicited pong is ignored', async () => {
    const c = await connect();
    c.send(frame(OP.PONG, 'unsolicited'), frame(OP.TEXT, 'after'));
    await c.expectEcho(OP.TEXT, 'after');
  });
  test('10 pings -> 10 pongs in order', async () => {
    const c = await connect();
    for (let i = 0; i < 10; i++) c.send(frame(OP.PING, `ping ${i}`));
    for (let i = 0; i < 10; i++) await c.expectEcho(OP.PONG, `ping ${i}`);
  });
});

// ---- 3. reserved bits ---------------------------------------------------

describe('3 reserved bits -> 1002', () => {
  for (let rsv = 1; rsv <= 7; rsv++) {
    test(`RSV=${rsv} on a text frame, after a valid message`, () =>
      expectFailure([frame(OP.TEXT, 'ok'), frame(OP.TEXT, 'bad', { rsv }), frame(OP.PING)], 1002,
        { before: [[OP.TEXT, 'ok']] }));
  }
  test('RSV on a binary frame', () => expectFailure([frame(OP.BINARY, patternBuf(10), { rsv: 4 })], 1002));
  test('RSV on a ping', () => expectFailure([frame(OP.PING, 'x', { rsv: 2 })], 1002));
  test('RSV on a close', () => expectFailure([frame(OP.CLOSE, closePayload(1000), { rsv: 1 })], 1002));
});

// ---- 4. opcodes -----------------------------------------------------------

describe('4 reserved opcodes -> 1002', () => {
  for (const op of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    test(`opcode ${op}, after a valid message`, () =>
      expectFailure([frame(OP.TEXT, 'ok'), frame(op, 'x'), frame(OP.PING)], 1002,
        { before: [[OP.TEXT, 'ok']] }));
  }
});

// ---- 5. fragmentation --------------------------------------------------

describe('5 fragmentation', () => {
  test('fragmented ping -> 1002', () =>
    expectFailure([frame(OP.PING, 'frag', { fin: false }), frame(OP.CONT, 'ment')], 1002));
  test('fragmented pong -> 1002', () =>
    expectFailure([frame(OP.PONG, 'frag', { fin: false }), frame(OP.CONT, 'ment')], 1002));
  test('text in two fragments', async () => {
    const c = await connect();
    c.send(frame(OP.TEXT, 'fragment1', { fin: false }), frame(OP.CONT, 'fragment2'));
    await c.expectEcho(OP.TEXT, 'fragment1fragment2');
  });
  test('binary in 1-byte fragments, chopped and slow', async () => {
    const c = await connect();
    const data = patternBuf(40);
    const frames = [...data].map((b, i) =>
      frame(i === 0 ? OP.BINARY : OP.CONT, Buffer.from([b]), { fin: i === data.length - 1 }));
    await c.sendChopped(Buffer.concat(frames), 3, 1);
    await c.expectEcho(OP.BINARY, data);
  });
  test('pings between fragments are answered first', async () => {
    const c = await connect();
    c.send(frame(OP.TEXT, 'frag1', { fin: false }), frame(OP.PING, 'p1'),
      frame(OP.CONT, 'frag2', { fin: false }), frame(OP.PING, 'p2'), frame(OP.CONT, 'frag3'));
    await c.expectEcho(OP.PONG, 'p1');
    await c.expectEcho(OP.PONG, 'p2');
    await c.expectEcho(OP.TEXT, 'frag1frag2frag3');
  });
  test('pings between fragments, sent slowly in chops', async () => {
    const c = await connect();
    const bytes = Buffer.concat([frame(OP.TEXT, 'slow ', { fin: false }), frame(OP.PING, 'ping'),
      frame(OP.CONT, 'fragments')]);
    await c.sendChopped(bytes, 1, 2);
    await c.expectEcho(OP.PONG, 'ping');
    await c.expectEcho(OP.TEXT, 'slow fragments');
  });
  test('empty fragments', async () => {
    const c = await connect();
    c.send(frame(OP.TEXT, '', { fin: false }), frame(OP.CONT, '', { fin: false }), frame(OP.CONT, ''));
    await c.expectEcho(OP.TEXT, '');
  });
  test('continuation without a message -> 1002', () =>
    expectFailure([frame(OP.CONT, 'orphan'), frame(OP.TEXT, 'never')], 1002));
  test('non-final continuation without a message -> 1002', () =>
    expectFailure([frame(OP.CONT, 'orphan', { fin: false })], 1002));
  test('continuation after a finished message -> 1002', () =>
    expectFailure([frame(OP.TEXT, 'done'), frame(OP.CONT, 'late')], 1002, { before: [[OP.TEXT, 'done']] }));
  test('new text while a message is in progress -> 1002', () =>
    expectFailure([frame(OP.TEXT, 'first', { fin: false }), frame(OP.TEXT, 'second')], 1002));
  test('new binary while a message is in progress -> 1002', () =>
    expectFailure([frame(OP.TEXT, 'a', { fin: false }), frame(OP.CONT, 'b', { fin: false }),
      frame(OP.BINARY, 'c')], 1002));
});

// ---- 6. UTF-8 ------------------------------------------------------------

const VALID_UTF8 = [
  '', 'Hello-µ@ßöäüàá-UTF-8!!', 'κόσμε', '\u0080', '\u07ff', '\u0800', '\ud7ff', '\ue000',
  '\ufffd', '\uffff', '\u{10000}', '\u{10ffff}', '😀 emoji 🎮',
];
const INVALID_UTF8 = {
  'lone continuation': 'ce ba 80',
  'overlong slash (2 bytes)': 'c0 af',
  'overlong slash (3 bytes)': 'e0 80 af',
  'overlong slash (4 bytes)': 'f0 80 80 af',
  'overlong U+FFFF': 'f0 8f bf bf',
  'high surrogate U+D800': 'ed a0 80',
  'low surrogate U+DFFF': 'ed bf bf',
  'surrogate pair': 'ed a0 80 ed b0 80',
  'U+110000': 'f4 90 80 80',
  'byte FE': 'fe',
  'byte FF': 'ff',
  'F5 lead': 'f5 80 80 80',
  'truncated 3-byte at the end': '68 65 6c 6c 6f e2 82',
  'lead then ASCII': 'c2 41',
};
const hex = (s) => Buffer.from(s.replace(/ /g, ''), 'hex');

describe('6 UTF-8', () => {
  for (const s of VALID_UTF8) {
    test(`valid ${JSON.stringify(s)} whole and in 1-byte fragments`, async () => {
      const c = await connect();
      const b = Buffer.from(s, 'utf8');
      c.send(frame(OP.TEXT, b));
      await c.expectEcho(OP.TEXT, b);
      if (b.length === 0) return;
      c.send(...[...b].map((x, i) => frame(i === 0 ? OP.TEXT : OP.CONT, Buffer.from([x]), { fin: i === b.length - 1 })));
      await c.expectEcho(OP.TEXT, b);
    });
  }
  for (const [name, h] of Object.entries(INVALID_UTF8)) {
    test(`invalid: ${name} -> 1007`, () => expectFailure([frame(OP.TEXT, hex(h))], 1007));
    test(`invalid: ${name}, in 1-byte fragments -> 1007`, () => {
      const b = hex(h);
      return expectFailure([...b].map((x, i) =>
        frame(i === 0 ? OP.TEXT : OP.CONT, Buffer.from([x]), { fin: i === b.length - 1 })), 1007);
    });
  }
  test('binary messages are not checked', async () => {
    const c = await connect();
    c.send(frame(OP.BINARY, hex('ff fe ed a0 80')));
    await c.expectEcho(OP.BINARY, hex('ff fe ed a0 80'));
  });
  test('fails fast in the middle of a fragmented message', async () => {
    // The message never ends: the server must fail it on the bad bytes.
    const c = await connect();
    c.send(frame(OP.TEXT, 'κόσμε', { fin: false }), frame(OP.CONT, hex('f4 90 80 80'), { fin: false }));
    await c.expectClose(1007);
  });
  test('fails fast inside a frame that is not complete yet', async () => {
    const c = await connect();
    const tail = Buffer.concat([hex('80 80'), Buffer.from('-edited')]);
    const f = frame(OP.TEXT, Buffer.concat([Buffer.from('κόσμε'), hex('f4 90'), tail]));
    c.send(f.subarray(0, f.length - tail.length));      // up to and including 0x90
    await c.expectClose(1007);
  });
});

// ---- 7. close handshake --------------------------------------------------

describe('7 close handshake', () => {
  test('text then close 1000: echo, close 1000, TCP closed', async () => {
    const c = await connect();
    c.send(frame(OP.TEXT, 'Hello'), frame(OP.CLOSE, closePayload(1000)));
    await c.expectEcho(OP.TEXT, 'Hello');
    await c.expectClose(1000);
  });
  test('close, then another close: only one close back', async () => {
    const c = await connect();
    c.send(frame(OP.CLOSE, closePayload(1000)), frame(OP.CLOSE, closePayload(1000)));
    await c.expectClose(1000);
  });
  test('close, then ping: no pong', async () => {
    const c = await connect();
    c.send(frame(OP.CLOSE, closePayload(1000)), frame(OP.PING, 'ignored'));
    await c.expectClose(1000);
  });
  test('close, then text: no echo', async () => {
    const c = await connect();
    c.send(frame(OP.CLOSE, closePayload(1000)), frame(OP.TEXT, 'ignored'));
    await c.expectClose(1000);
  });
  test('close in the middle of a fragmented message: no message', async () => {
    const c = await connect();
    c.send(frame(OP.TEXT, 'frag', { fin: false }), frame(OP.CLOSE, closePayload(1000)));
    await c.expectClose(1000);
  });
  test('close without payload', async () => {
    const c = await connect();
    c.send(frame(OP.CLOSE));
    await c.expectClose(null);
  });
  test('close with a 1-byte payload -> 1002', () => expectFailure([frame(OP.CLOSE, Buffer.from([0x03]))], 1002));
  test('close 1000 with a reason', async () => {
    const c = await connect();
    c.send(frame(OP.CLOSE, closePayload(1000, 'Hello World!')));
    await c.expectClose(1000);
  });
  test('close 1000 with a 123-byte reason (125 in total)', async () => {
    const c = await connect();
    c.send(frame(OP.CLOSE, closePayload(1000, '*'.repeat(123))));
    await c.expectClose(1000);
  });
  test('close with a 124-byte reason (126 in total) -> 1002', () =>
    expectFailure([frame(OP.CLOSE, closePayload(1000, '*'.repeat(124)))], 1002));
  test('close reason with invalid UTF-8 -> 1007', () =>
    expectFailure([frame(OP.CLOSE, closePayload(1000, hex('ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64')))], 1007));
  for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999]) {
    test(`valid close code ${code} is echoed`, async () => {
      const c = await connect();
      c.send(frame(OP.CLOSE, closePayload(code)));
      await c.expectClose(code);
    });
  }
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
    test(`invalid close code ${code} -> 1002`, () => expectFailure([frame(OP.CLOSE, closePayload(code))], 1002));
  }
});

// ---- 9. limits and larger messages ------------------------------------

describe('9 larger messages and many messages', () => {
  for (const n of [256 << 10, 1 << 20, 4 << 20]) {
    test(`text of ${n >> 10} KiB`, { timeout: 30000 }, async () => {
      const c = await connect();
      c.send(frame(OP.TEXT, textOf(n)));
      await c.expectEcho(OP.TEXT, textOf(n));
    });
  }
  for (const frag of [64, 4096, 65536, 1 << 20]) {
    test(`binary of 4 MiB in ${frag}-byte fragments`, { timeout: 30000 }, async () => {
      const c = await connect();
      const data = patternBuf(4 << 20, frag);
      const frames = [];
      for (let i = 0; i < data.length; i += frag)
        frames.push(frame(i === 0 ? OP.BINARY : OP.CONT, data.subarray(i, i + frag), { fin: i + frag >= data.length }));
      c.send(Buffer.concat(frames));
      await c.expectEcho(OP.BINARY, data);
    });
  }
  test('1000 small text messages, all echoed in order', { timeout: 30000 }, async () => {
    const c = await connect();
    const msgs = Array.from({ length: 1000 }, (_, i) => Buffer.from(`#${i} ${'x'.repeat(i % 50)}`));
    for (let i = 0; i < msgs.length; i += 100)
      c.send(Buffer.concat(msgs.slice(i, i + 100).map((m) => frame(OP.TEXT, m))));
    for (const m of msgs) await c.expectEcho(OP.TEXT, m);
  });
});

// ---- 10. misc: --ws-max-message ------------------------------------------

describe('10 message size limit (--ws-max-message 1000) -> 1009', () => {
  test('exactly the limit is echoed', async () => {
    const c = await connect(small);
    c.send(frame(OP.BINARY, patternBuf(1000)));
    await c.expectEcho(OP.BINARY, patternBuf(1000));
  });
  test('one byte over -> 1009', async () => {
    const c = await connect(small);
    c.send(frame(OP.BINARY, patternBuf(1001)));
    await c.expectClose(1009);
  });
  test('fragments adding up past the limit -> 1009', async () => {
    const c = await connect(small);
    c.send(frame(OP.TEXT, textOf(600), { fin: false }), frame(OP.CONT, textOf(401)));
    await c.expectClose(1009);
  });
  test('a huge announced length fails at the header, before any payload', async () => {
    const c = await connect(small);
    c.send(frame(OP.BINARY, Buffer.alloc(0), { len: 2 ** 40 }));
    await c.expectClose(1009);
  });
});
