'use strict';
// The Scalability Protocols REQ side (nng req0) over tcp:// and ipc://, on Node's net module.
//
// Wire format (NNG 1.5, src/sp/transport/{tcp,ipc}/*.c, src/sp/protocol/reqrep0/req.c):
// - After connecting, each side sends 8 bytes and reads the peer's: 00 53 50 00, its protocol
//   id as a big-endian u16 (REQ = 0x0030, REP = 0x0031), 00 00.
// - tcp://: each message is a big-endian u64 length and the bytes. ipc://: a type byte 0x01,
//   the u64 length, the bytes.
// - A request is a 4-byte big-endian request id with the high bit set, then the body; the
//   reply starts with the same 4 bytes.
// Several requests may be in flight on one connection; replies are matched by id, and a reply
// whose id is not pending (its caller gave up) is dropped, as NNG's REQ does.

const net = require('net');
const crypto = require('crypto');
const { Code, EvreplError, makeError } = require('./errors');

const SP_PROTO_REQ = 0x30;
const SP_PROTO_REP = 0x31;
const REQ_HEADER = Buffer.from([0x00, 0x53, 0x50, 0x00, 0x00, SP_PROTO_REQ, 0x00, 0x00]);
const REP_HEADER = Buffer.from([0x00, 0x53, 0x50, 0x00, 0x00, SP_PROTO_REP, 0x00, 0x00]);
const IPC_MSG_TYPE = 0x01;
const HIGH_BIT = 0x80000000;

/** { kind: 'tcp', host, port } or { kind: 'ipc', path }; INVALID_ARGUMENT otherwise. */
function parseUrl(url) {
  const bad = (why) => new EvreplError(Code.INVALID_ARGUMENT, `bad server URL ${JSON.stringify(url)}: ${why}`);
  if (typeof url !== 'string' || url === '') throw new EvreplError(Code.INVALID_ARGUMENT, 'no server URL given');
  const i = url.indexOf('://');
  if (i < 0) throw bad('want tcp://HOST:PORT or ipc://PATH');
  const scheme = url.slice(0, i);
  const rest = url.slice(i + 3);
  if (scheme === 'tcp' || scheme === 'tcp4' || scheme === 'tcp6') {
    const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:/[\]]+)):(\d{1,5})\/?$/.exec(rest);
    if (!m) throw bad('want tcp://HOST:PORT');
    const port = Number(m[3]);
    if (port < 1 || port > 65535) throw bad('port out of range');
    return { kind: 'tcp', host: m[1] || m[2], port };
  }
  if (scheme === 'ipc') {
    if (rest === '') throw bad('want ipc://PATH');
    return { kind: 'ipc', path: rest };
  }
  if (scheme === 'tls+tcp') {
    throw new EvreplError(Code.INVALID_ARGUMENT,
      `${url}: tls+tcp:// is not supported by the Node client (use an ipc:// or tcp:// listener)`);
  }
  throw bad('want tcp://HOST:PORT or ipc://PATH');
}

function frame(kind, message) {
  const head = Buffer.alloc(kind === 'ipc' ? 9 : 8);
  if (kind === 'ipc') {
    head[0] = IPC_MSG_TYPE;
    head.writeBigUInt64BE(BigInt(message.length), 1);
  } else {
    head.writeBigUInt64BE(BigInt(message.length), 0);
  }
  return Buffer.concat([head, message]);
}

class SPConnection {
  /**
   * Connects and exchanges SP headers before `deadline` (a Date.now() value). Rejects with
   * UNAVAILABLE when it cannot: nothing was sent then, so the caller may safely retry.
   */
  static connect(url, deadline, maxReplyBytes) {
    const c = new SPConnection(url, maxReplyBytes);
    return c._open(deadline).then(() => c);
  }

  constructor(url, maxReplyBytes) {
    this.url = url;
    this.addr = parseUrl(url);
    this.maxReplyBytes = maxReplyBytes;
    this.socket = null;
    this.closed = false;
    this.buf = Buffer.alloc(0);
    this.pending = new Map(); // request id -> { resolve, reject, timer }
    this.nextId = crypto.randomInt(0, 0x7fffffff);
  }

  _open(deadline) {
    return new Promise((resolve, reject) => {
      const opts = this.addr.kind === 'tcp' ? { host: this.addr.host, port: this.addr.port } : { path: this.addr.path };
      const sock = net.createConnection(opts);
      this.socket = sock;
      let handshaken = false;
      const fail = (err) => {
        if (handshaken) return;
        handshaken = true; // settle once
        clearTimeout(timer);
        sock.destroy();
        this.closed = true;
        reject(err);
      };
      const timer = setTimeout(() => fail(new EvreplError(Code.UNAVAILABLE,
        `cannot reach ${this.url}: not connected before the deadline`)), Math.max(0, deadline - Date.now()));
      sock.once('connect', () => {
        if (this.addr.kind === 'tcp') sock.setNoDelay(true);
        sock.write(REQ_HEADER);
      });
      sock.on('error', (e) => {
        if (!handshaken) fail(new EvreplError(Code.UNAVAILABLE, `cannot connect to ${this.url}: ${e.code || e.message}`));
        else this._lost(`connection lost (${e.code || e.message})`);
      });
      sock.on('close', () => {
        if (!handshaken) fail(new EvreplError(Code.UNAVAILABLE, `cannot connect to ${this.url}: the server closed the connection during the SP handshake`));
        else this._lost('connection lost (the server closed the connection)');
      });
      sock.on('data', (chunk) => {
        this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
        if (!handshaken) {
          if (this.buf.length < 8) return;
          const peer = this.buf.subarray(0, 8);
          this.buf = this.buf.subarray(8);
          if (!peer.equals(REP_HEADER)) {
            fail(new EvreplError(Code.UNAVAILABLE,
              `cannot connect to ${this.url}: the peer is not an SP REP socket (header ${peer.toString('hex')})`));
            return;
          }
          handshaken = true;
          clearTimeout(timer);
          sock.unref(); // an idle client does not keep the process alive
          resolve();
        }
        this._parse();
      });
    });
  }

  _parse() {
    const headLen = this.addr.kind === 'ipc' ? 9 : 8;
    while (!this.closed && this.buf.length >= headLen) {
      if (this.addr.kind === 'ipc' && this.buf[0] !== IPC_MSG_TYPE) {
        this._fail(new EvreplError(Code.INTERNAL, `malformed response from ${this.url}: ipc message type ${this.buf[0]}`));
        return;
      }
      const len = this.buf.readBigUInt64BE(headLen - 8);
      if (len > BigInt(this.maxReplyBytes + 4)) {
        this._fail(new EvreplError(Code.RESOURCE_EXHAUSTED,
          `response from ${this.url} is ${len} bytes, over the client's limit of ${this.maxReplyBytes}`));
        return;
      }
      const n = Number(len);
      if (this.buf.length < headLen + n) return;
      const msg = this.buf.subarray(headLen, headLen + n);
      this.buf = this.buf.subarray(headLen + n);
      if (msg.length < 4) {
        this._fail(new EvreplError(Code.INTERNAL, `malformed response from ${this.url}: no request id`));
        return;
      }
      const id = msg.readUInt32BE(0);
      const p = this.pending.get(id);
      if (p) {
        this._settle(id);
        p.resolve(Buffer.from(msg.subarray(4)));
      }
      // else: a reply to a call that gave up; dropped.
    }
  }

  _settle(id) {
    const p = this.pending.get(id);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(id);
    if (this.pending.size === 0 && this.socket) this.socket.unref();
  }

  _fail(err) {
    this.closed = true;
    if (this.socket) this.socket.destroy();
    for (const [id, p] of [...this.pending]) {
      this._settle(id);
      p.reject(err);
    }
  }

  _lost(why) {
    if (this.closed && this.pending.size === 0) return;
    this._fail(new EvreplError(Code.UNAVAILABLE, `no answer from ${this.url}: ${why}; the request was not resent`));
  }

  newRequestId() {
    this.nextId = (this.nextId + 1) & 0x7fffffff;
    return (this.nextId | HIGH_BIT) >>> 0;
  }

  /**
   * Sends body as one request; resolves with the reply body. Rejects with DEADLINE_EXCEEDED
   * when no reply came before `deadline`, UNAVAILABLE when the connection is or gets lost. A
   * request is never sent twice.
   */
  request(body, deadline) {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new EvreplError(Code.UNAVAILABLE, `cannot send to ${this.url}: not connected`));
        return;
      }
      let id = this.newRequestId();
      while (this.pending.has(id)) id = this.newRequestId();
      const head = Buffer.alloc(4);
      head.writeUInt32BE(id, 0);
      const timer = setTimeout(() => {
        this._settle(id);
        reject(makeError(Code.DEADLINE_EXCEEDED, `no answer from ${this.url} before the deadline`));
      }, Math.max(0, deadline - Date.now()));
      this.pending.set(id, { resolve, reject, timer });
      this.socket.ref();
      this.socket.write(frame(this.addr.kind, Buffer.concat([head, body])));
    });
  }

  close() {
    this.closed = true;
    if (this.socket) this.socket.destroy();
    for (const [id, p] of [...this.pending]) {
      this._settle(id);
      p.reject(new EvreplError(Code.CANCELLED, `the client was closed before ${this.url} answered`));
    }
  }
}

module.exports = { SPConnection, parseUrl, frame, REQ_HEADER, REP_HEADER, SP_PROTO_REQ, SP_PROTO_REP };
