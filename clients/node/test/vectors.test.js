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
const { CLIENT_VECTORS_DIR } = require('./support');

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
