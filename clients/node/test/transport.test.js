'use strict';
// The SP request/reply wire, checked against fake servers that speak NNG 1.5's bytes.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { performance } = require('node:perf_hooks');

const evrepl = require('..');
const pb = require('../src/proto');
const { FakeServer, NNG_REQ0_HEADER, NNG_REP0_HEADER, writeMessage, freeTcpPort, sleep } = require('./support');

const SLACK_MS = 1000; // what a loaded machine may add (the client default is 5 s)

function okResponse(payload, metadata = {}) {
  return Buffer.from(pb.Response.encode(pb.Response.create({ status: { code: 0 }, payload, metadata })).finish());
}

/** A REP peer: header exchange, then answers every request with Health SERVING (08 01). */
function echoServer({ wrongIdFirst = false } = {}) {
  return async (fake, sock, rd) => {
    fake.received.push(['header', await rd.read(8)]);
    sock.write(NNG_REP0_HEADER);
    for (;;) {
      let msg;
      try {
        msg = await rd.message(fake.kind);
      } catch {
        return;
      }
      fake.received.push(['request', msg]);
      const id = msg.subarray(0, 4);
      if (wrongIdFirst) {
        const other = Buffer.alloc(4);
        other.writeUInt32BE((id.readUInt32BE(0) ^ 1) >>> 0);
        writeMessage(sock, fake.kind, Buffer.concat([other, okResponse(Buffer.from([0x08, 0x02]))]));
      }
      writeMessage(sock, fake.kind, Buffer.concat([id, okResponse(Buffer.from([0x08, 0x01]), { 'x-evrepl-backend': 'fake' })]));
    }
  };
}

async function handshakeThenSilent(fake, sock, rd) {
  await rd.read(8);
  sock.write(NNG_REP0_HEADER);
  sock.on('data', (d) => fake.received.push(['bytes', d]));
}

async function withFake(t, behave, kind) {
  const fake = await FakeServer.start(behave, kind);
  t.after(() => fake.stop());
  return fake;
}

for (const kind of ['tcp', 'ipc']) {
  test(`${kind}: request bytes are NNG req0 bytes`, async (t) => {
    const fake = await withFake(t, echoServer(), kind);
    const c = await evrepl.Client.connect(fake.url, { timeoutMs: 3000 });
    t.after(() => c.close());
    assert.equal(await c.health('', { requestId: 'rid-1' }), evrepl.ServingStatus.SERVING);
    assert.deepEqual(c.lastMetadata, { 'x-evrepl-backend': 'fake' });
    assert.equal(fake.received[0][0], 'header');
    assert.deepEqual(fake.received[0][1], NNG_REQ0_HEADER);
    const [what, msg] = fake.received[1];
    assert.equal(what, 'request');
    const id = msg.readUInt32BE(0);
    assert.ok(id & 0x80000000, `request id ${id.toString(16)} lacks the high bit`);
    const req = pb.Request.decode(msg.subarray(4));
    assert.equal(req.method, '/evrepl.v1.Health/Check');
    assert.equal(req.timeoutMs, 3000);
    assert.deepEqual({ ...req.metadata }, { 'x-request-id': 'rid-1' });
    assert.equal(pb.HealthCheckRequest.decode(req.payload).service, '');
  });

  test(`${kind}: a server that never answers gives DEADLINE_EXCEEDED on time, sent once`, async (t) => {
    const fake = await withFake(t, handshakeThenSilent, kind);
    const c = await evrepl.Client.connect(fake.url, { timeoutMs: 5000 });
    t.after(() => c.close());
    const t0 = performance.now();
    await assert.rejects(c.health('', { timeoutMs: 300 }), (e) => {
      assert.ok(e instanceof evrepl.DeadlineExceededError);
      assert.equal(e.code, evrepl.Code.DEADLINE_EXCEEDED);
      return true;
    });
    const took = performance.now() - t0;
    assert.ok(took >= 295, `gave up after ${took} ms, before the deadline`);
    assert.ok(took < 300 + SLACK_MS, `gave up after ${took} ms`);
    await sleep(100);
    const sent = Buffer.concat(fake.received.filter(([k]) => k === 'bytes').map(([, d]) => d));
    const headLen = kind === 'ipc' ? 9 : 8;
    const n = Number(sent.readBigUInt64BE(headLen - 8));
    assert.equal(sent.length, headLen + n, 'the request went out exactly once');
  });
}

test('request ids differ and keep the high bit; concurrent calls are matched by id', async (t) => {
  const fake = await withFake(t, echoServer(), 'tcp');
  const c = await evrepl.Client.connect(fake.url);
  t.after(() => c.close());
  const got = await Promise.all([1, 2, 3, 4].map(() => c.health()));
  assert.deepEqual(got, [1, 1, 1, 1]);
  const ids = fake.received.filter(([k]) => k === 'request').map(([, m]) => m.readUInt32BE(0));
  assert.equal(ids.length, 4);
  assert.equal(new Set(ids).size, 4);
  for (const id of ids) assert.ok(id & 0x80000000);
});

test('a reply with another request id is discarded', async (t) => {
  const fake = await withFake(t, echoServer({ wrongIdFirst: true }), 'tcp');
  const c = await evrepl.Client.connect(fake.url);
  t.after(() => c.close());
  assert.equal(await c.health(), evrepl.ServingStatus.SERVING);
});

test('a token is sent as authorization: Bearer TOKEN', async (t) => {
  const fake = await withFake(t, echoServer(), 'tcp');
  const c = await evrepl.Client.connect(fake.url, { token: 's3cret' });
  t.after(() => c.close());
  await c.health();
  const req = pb.Request.decode(fake.received[1][1].subarray(4));
  assert.equal(req.metadata.authorization, 'Bearer s3cret');
});

test('a listener that never speaks: UNAVAILABLE (nothing was sent), on time', async (t) => {
  const fake = await withFake(t, () => {}, 'tcp');
  const t0 = performance.now();
  await assert.rejects(evrepl.Client.connect(fake.url, { timeoutMs: 300 }), (e) => {
    assert.equal(e.code, evrepl.Code.UNAVAILABLE);
    return true;
  });
  const took = performance.now() - t0;
  assert.ok(took >= 295 && took < 300 + SLACK_MS, `took ${took} ms`);
});

test('a connection lost after sending fails the call with UNAVAILABLE, never resent', async (t) => {
  const fake = await withFake(t, async (f, sock, rd) => {
    await rd.read(8);
    sock.write(NNG_REP0_HEADER);
    f.received.push(['request', await rd.message('tcp')]);
    sock.destroy();
  }, 'tcp');
  const c = await evrepl.Client.connect(fake.url, { timeoutMs: 2000 });
  t.after(() => c.close());
  await assert.rejects(c.health(), (e) => e.code === evrepl.Code.UNAVAILABLE);
  await sleep(100);
  assert.equal(fake.received.filter(([k]) => k === 'request').length, 1);
  await assert.rejects(c.health(), (e) => e.code === evrepl.Code.UNAVAILABLE); // reconnects, lost again
  assert.equal(fake.conns.length, 2);
});

test('a peer that is not REP is refused', async (t) => {
  const fake = await withFake(t, async (f, sock, rd) => {
    await rd.read(8);
    sock.write(NNG_REQ0_HEADER);
  }, 'tcp');
  await assert.rejects(evrepl.Client.connect(fake.url, { timeoutMs: 1000 }), (e) => e.code === evrepl.Code.UNAVAILABLE);
});

test('a refused connection is UNAVAILABLE at once', async () => {
  const port = await freeTcpPort();
  const t0 = performance.now();
  await assert.rejects(evrepl.Client.connect(`tcp://127.0.0.1:${port}`, { timeoutMs: 3000 }),
    (e) => e.code === evrepl.Code.UNAVAILABLE);
  assert.ok(performance.now() - t0 < 1000);
});

test('bad URLs are INVALID_ARGUMENT', () => {
  for (const url of ['', 'http://x', 'tcp://127.0.0.1', 'tcp://:80', 'ipc://', '127.0.0.1:80']) {
    assert.throws(() => new evrepl.Client(url), (e) => e.code === evrepl.Code.INVALID_ARGUMENT, url);
  }
});
