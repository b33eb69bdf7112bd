'use strict';
// Test harness: finds evrepld, starts it on a free port and a private ipc socket, stops it;
// fake servers for the transport tests.

const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const { spawn, execFileSync } = require('child_process');

const REPO = path.resolve(__dirname, '..', '..', '..');
const CLIENT_VECTORS_DIR = path.join(REPO, 'tests', 'clients', 'vectors');
const VECTORS_DIR = path.join(REPO, 'tests', 'vectors');

// Bytes from NNG 1.5 (src/sp/transport/tcp/tcp.c tcptran_pipe_start, ipc.c ipc_pipe_start):
// "\0SP\0", the protocol id big-endian (req0 = 48 = 0x30, rep0 = 49 = 0x31), two zero bytes.
// Written out here, not imported, so the tests check the client against the spec.
const NNG_REQ0_HEADER = Buffer.from([0x00, 0x53, 0x50, 0x00, 0x00, 0x30, 0x00, 0x00]);
const NNG_REP0_HEADER = Buffer.from([0x00, 0x53, 0x50, 0x00, 0x00, 0x31, 0x00, 0x00]);

function binDir() {
  const env = process.env.EVREPL_BIN_DIR;
  const candidates = env ? [env] : [path.join(REPO, 'build', 'bin'), path.join(REPO, 'build-clients', 'bin')];
  return candidates.find((d) => fs.existsSync(path.join(d, 'evrepld'))) || null;
}

/** The bin dir, or a skip (a failure under CI, where a skipped live test must not pass). */
function requireBinDir(t) {
  const d = binDir();
  if (d) return d;
  const msg = 'evrepld not found: set EVREPL_BIN_DIR to the build\'s bin directory';
  if (process.env.CI === 'true') throw new Error(msg);
  t.skip(msg);
  return null;
}

function freeTcpPort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Resolves true when an SP REP socket answers the header exchange at opts. */
function spReady(opts, timeoutMs = 500) {
  return new Promise((resolve) => {
    const sock = net.createConnection(opts);
    let got = Buffer.alloc(0);
    const done = (ok) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.on('connect', () => sock.write(NNG_REQ0_HEADER));
    sock.on('data', (d) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 8) done(got.subarray(0, 8).equals(NNG_REP0_HEADER));
    });
    sock.on('error', () => done(false));
    sock.on('close', () => done(false));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class Server {
  /** Starts evrepld with a tcp:// and an ipc:// listener; resolves when both answer. */
  static async start(bin, args = [], keyFile = null) {
    const s = new Server();
    s.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'evrepl-node-'));
    s.ipcPath = path.join(s.tmp, 'evrepld.sock');
    s.ipcUrl = `ipc://${s.ipcPath}`;
    s.log = '';
    for (let attempt = 0; attempt < 5; attempt++) {
      s.port = await freeTcpPort();
      s.tcpUrl = `tcp://127.0.0.1:${s.port}`;
      const argv = ['--listen', s.tcpUrl, '--listen', s.ipcUrl, ...args];
      if (keyFile) argv.push('--receipt-key', keyFile);
      s.proc = spawn(path.join(bin, 'evrepld'), argv, { stdio: ['ignore', 'pipe', 'pipe'] });
      s.exited = new Promise((r) => s.proc.once('exit', (code) => r(code)));
      s.proc.stdout.on('data', (d) => { s.log += d; });
      s.proc.stderr.on('data', (d) => { s.log += d; });
      if (await s._waitReady()) return s;
      await s._stopProc();
    }
    throw new Error(`evrepld did not start: ${s.log}`);
  }

  async _waitReady() {
    const until = Date.now() + 15000;
    while (Date.now() < until) {
      if (this.proc.exitCode !== null) return false;
      if ((await spReady({ host: '127.0.0.1', port: this.port })) && (await spReady({ path: this.ipcPath }))) return true;
      await sleep(20);
    }
    return false;
  }

  async _stopProc() {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGTERM');
      const t = setTimeout(() => this.proc.kill('SIGKILL'), 10000);
      await this.exited;
      clearTimeout(t);
    }
  }

  async stop() {
    await this._stopProc();
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}

/** Runs `evrepl keygen` into a new temp dir: { keyPath, pubHex, printedKeyId }. */
function keygen(bin) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evrepl-node-key-'));
  const keyPath = path.join(dir, 'receipt.key');
  const out = execFileSync(path.join(bin, 'evrepl'), ['keygen', '--out', keyPath], { encoding: 'utf8' });
  const pubHex = fs.readFileSync(`${keyPath}.pub`, 'utf8').trim();
  return { keyPath, pubHex, printedKeyId: out.trim().split(/\s+/).pop() };
}

/**
 * A tcp or ipc listener that runs behave(fake, socket, reader) for each connection.
 * reader.read(n) resolves with exactly n bytes (rejects when the peer closes).
 */
class FakeServer {
  static async start(behave, kind = 'tcp') {
    const f = new FakeServer();
    f.kind = kind;
    f.received = [];
    f.conns = [];
    f.server = net.createServer((sock) => {
      f.conns.push(sock);
      sock.on('error', () => {});
      Promise.resolve(behave(f, sock, new Reader(sock))).catch(() => {});
    });
    f.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'evrepl-fake-'));
    if (kind === 'tcp') {
      await new Promise((r) => f.server.listen(0, '127.0.0.1', r));
      f.url = `tcp://127.0.0.1:${f.server.address().port}`;
    } else {
      const p = path.join(f.tmp, 'fake.sock');
      await new Promise((r) => f.server.listen(p, r));
      f.url = `ipc://${p}`;
    }
    return f;
  }

  async stop() {
    for (const c of this.conns) c.destroy();
    await new Promise((r) => this.server.close(r));
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}

class Reader {
  constructor(sock) {
    this.buf = Buffer.alloc(0);
    this.waiters = [];
    this.closed = false;
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this._pump();
    });
    sock.on('close', () => {
      this.closed = true;
      this._pump();
    });
  }

  _pump() {
    while (this.waiters.length) {
      const w = this.waiters[0];
      if (this.buf.length >= w.n) {
        this.waiters.shift();
        const out = this.buf.subarray(0, w.n);
        this.buf = this.buf.subarray(w.n);
        w.resolve(out);
      } else if (this.closed) {
        this.waiters.shift();
        w.reject(new Error('peer closed'));
      } else {
        return;
      }
    }
  }

  read(n) {
    return new Promise((resolve, reject) => {
      this.waiters.push({ n, resolve, reject });
      this._pump();
    });
  }

  /** One SP message as NNG frames it: tcp = u64 BE length + bytes; ipc = 0x01 + u64 + bytes. */
  async message(kind) {
    if (kind === 'ipc') {
      const t = await this.read(1);
      if (t[0] !== 0x01) throw new Error(`ipc message type ${t[0]}`);
    }
    const n = Number((await this.read(8)).readBigUInt64BE(0));
    return this.read(n);
  }
}

function writeMessage(sock, kind, body) {
  const head = Buffer.alloc(8);
  head.writeBigUInt64BE(BigInt(body.length));
  sock.write(Buffer.concat([kind === 'ipc' ? Buffer.from([0x01]) : Buffer.alloc(0), head, body]));
}

module.exports = {
  REPO,
  VECTORS_DIR,
  CLIENT_VECTORS_DIR,
  NNG_REQ0_HEADER,
  NNG_REP0_HEADER,
  binDir,
  requireBinDir,
  freeTcpPort,
  Server,
  FakeServer,
  keygen,
  writeMessage,
  sleep,
};
