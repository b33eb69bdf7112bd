'use strict';
// Offline checks against the shared test vectors (no server needed).

const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const evrepl = require('..');
const pb = require('../src/proto');
const { ed25519Verify } = require('../src/signing');
const { CLIENT_VECTORS_DIR, VECTORS_DIR } = require('./support');

const doc = JSON.parse(fs.readFileSync(path.join(CLIENT_VECTORS_DIR, 'receipt-vectors.json'), 'utf8'));
const pk = Buffer.from(doc.public_key_hex, 'hex');

// Independent of the client's Ed25519 wrapper: Node's JWK import of the raw key.
function serverSigned(canonical, sig) {
  const key = crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: pk.toString('base64url') }, format: 'jwk' });
  return crypto.verify(null, canonical, key, sig);
}

function flip(b, i) {
  const c = Buffer.from(b);
  c[i] ^= 0x01;
  return c;
}

test('key id = hex(SHA-256(public key)[:16])', () => {
  assert.equal(evrepl.keyId(pk), doc.key_id);
  assert.equal(evrepl.keyId(doc.public_key_hex), doc.key_id);
});

function check(vec, type, fromWire, canonicalOf, verify) {
  const obj = fromWire(type.decode(Buffer.from(vec.message_hex, 'hex')));
  const canonical = Buffer.from(vec.canonical_hex, 'hex');
  const sig = Buffer.from(vec.signature_hex, 'hex');
  assert.deepEqual(obj.signature, sig);
  assert.equal(obj.signerKeyId, doc.key_id);
  assert.ok(serverSigned(canonical, sig), 'vector file inconsistent');
  assert.deepEqual(canonicalOf(obj), canonical);
  assert.ok(ed25519Verify(pk, canonical, sig));
  verify(obj, pk);
  for (const i of [0, canonical.length >> 1, canonical.length - 1]) {
    assert.equal(serverSigned(flip(canonical, i), sig), false);
    assert.equal(ed25519Verify(pk, flip(canonical, i), sig), false);
  }
  return obj;
}

test('receipt vectors: the server\'s signatures verify over the rebuilt canonical bytes', () => {
  assert.ok(doc.receipts.length >= 2);
  for (const vec of doc.receipts) {
    const r = check(vec, pb.ReplicationReceipt, evrepl.receiptFromWire, evrepl.receiptCanonicalBytes, evrepl.verifyReceipt);
    assert.throws(() => evrepl.verifyReceipt({ ...r, eventId: r.eventId.toUpperCase() }, pk),
      (e) => e.code === evrepl.Code.INVALID_ARGUMENT, vec.name);
  }
});

test('verification vectors: the server\'s signatures verify over the rebuilt canonical bytes', () => {
  assert.ok(doc.verifications.length >= 2);
  for (const vec of doc.verifications) {
    const v = check(vec, pb.VerificationResult, evrepl.verificationFromWire, evrepl.verificationCanonicalBytes,
      evrepl.verifyVerification);
    assert.throws(() => evrepl.verifyVerification({ ...v, headHashMatch: !v.headHashMatch }, pk),
      (e) => e.code === evrepl.Code.INVALID_ARGUMENT, vec.name);
  }
});

// ---- events: tests/vectors/event-vectors.json (docs/event-format.md) --------------------

const events = JSON.parse(fs.readFileSync(path.join(VECTORS_DIR, 'event-vectors.json'), 'utf8'));

function eventOf(v) {
  const e = v.event;
  return {
    eventId: Buffer.from(e.event_id_hex, 'hex'),
    sequence: BigInt(e.sequence),
    eventType: Buffer.from(e.event_type_hex, 'hex'),
    payload: Buffer.from(e.payload_hex, 'hex'),
    prevHash: Buffer.from(e.prev_hash_hex, 'hex'),
    signingKeyId: e.signing_key_id,
    createdAtUs: BigInt(e.created_at_us),
    contentHash: Buffer.from(v.content_hash_hex, 'hex'),
    signature: Buffer.from(v.signature_hex, 'hex'),
  };
}

// The public half of an Ed25519 seed, with Node's crypto (PKCS#8 wrapping of the raw seed).
function publicKeyOfSeed(seed) {
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  const spki = crypto.createPublicKey(crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }))
    .export({ format: 'der', type: 'spki' });
  return spki.subarray(spki.length - 32);
}

test('event vectors: canonical bytes, content hash, signature, decoding', () => {
  assert.equal(events.format, 'evrepl.event.v1');
  assert.ok(events.vectors.length >= 1);
  for (const v of events.vectors) {
    const pk = Buffer.from(v.public_key_hex, 'hex');
    assert.deepEqual(publicKeyOfSeed(Buffer.from(v.seed_hex, 'hex')), pk, v.name);
    assert.equal(evrepl.keyId(pk), v.key_id, v.name);
    const ev = eventOf(v);
    assert.equal(evrepl.eventCanonicalBytes(ev).toString('hex'), v.canonical_hex, v.name);
    assert.equal(evrepl.eventContentHash(ev).toString('hex'), v.content_hash_hex, v.name);
    assert.equal(evrepl.eventFieldProblem(ev), null, v.name);
    // The UUID text form gives the same bytes.
    assert.deepEqual(evrepl.eventCanonicalBytes({ ...ev, eventId: v.event.event_id }), evrepl.eventCanonicalBytes(ev));
    const verdict = evrepl.checkEvent(ev, pk, ev.sequence === 1n ? null : ev.prevHash);
    assert.ok(verdict.ok, `${v.name}: ${JSON.stringify(verdict)}`);
    const d = evrepl.decodeEventCanonical(Buffer.from(v.canonical_hex, 'hex'));
    assert.deepEqual({ ...d, contentHash: ev.contentHash, signature: ev.signature }, ev, v.name);
  }
});

test('event tampering is caught', () => {
  const v = events.vectors[0];
  const pk = Buffer.from(v.public_key_hex, 'hex');
  const ev = eventOf(v);
  for (const changed of [{ ...ev, payload: Buffer.concat([ev.payload, Buffer.from('x')]) },
    { ...ev, sequence: ev.sequence + 1n }, { ...ev, eventType: Buffer.concat([ev.eventType, Buffer.from('s')]) },
    { ...ev, createdAtUs: ev.createdAtUs + 1n }]) {
    assert.equal(evrepl.checkEvent(changed, pk).hashOk, false);
  }
  assert.equal(evrepl.checkEvent({ ...ev, signature: flip(ev.signature, 5) }, pk).signatureOk, false);
  assert.equal(evrepl.checkEvent(ev, publicKeyOfSeed(Buffer.alloc(32))).signatureOk, false);
  assert.equal(evrepl.checkEvent(ev, null).signatureOk, false);
});

test('event chains link by content hash, without gaps', () => {
  const chains = {};
  for (const v of events.vectors) if (v.chain) (chains[v.chain] ||= []).push(v);
  assert.ok(Object.keys(chains).length >= 1);
  for (const vs of Object.values(chains)) {
    const evs = vs.map(eventOf);
    const keys = Object.fromEntries(vs.map((v) => [v.key_id, v.public_key_hex]));
    assert.equal(evrepl.checkChain(evs, keys).ok, true);
    const broken = evrepl.checkChain([evs[0], { ...evs[1], prevHash: Buffer.alloc(32) }, ...evs.slice(2)], keys);
    assert.equal(broken.ok, false);
    assert.equal(broken.verdicts[1].linkOk, false);
    if (evs.length >= 3) assert.equal(evrepl.checkChain([evs[0], evs[2]], keys).ok, false);
  }
});

test('every decode_rejects entry is refused', () => {
  assert.ok(events.decode_rejects.length >= 1);
  for (const r of events.decode_rejects) {
    assert.throws(() => evrepl.decodeEventCanonical(Buffer.from(r.canonical_hex, 'hex')),
      (e) => e.code === evrepl.Code.INVALID_ARGUMENT, `${r.name}: ${r.reason}`);
  }
});
