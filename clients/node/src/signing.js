'use strict';
// Offline checks of the server's Ed25519 signatures on receipts and verification results.
//
// The signed ("canonical") bytes are those of src/domain/receipt.c and canon.c: big-endian
// integers; strings and byte strings as a u32 length then the bytes; string lists as a u32
// count then each string; booleans as one byte 0/1; each encoding starts with a
// length-prefixed domain tag. signer_key_id is covered, the signature is not.
// A key id is the lowercase hex of the first 16 bytes of SHA-256(public key).
// Ed25519 is Node's crypto.verify with the raw key wrapped as SPKI.

const crypto = require('crypto');
const { Code, EvreplError } = require('./errors');
const { PUBLIC_KEY_BYTES, SIGNATURE_BYTES } = require('./types');

const RECEIPT_TAG = 'evrepl.receipt.v1';
const VERIFICATION_TAG = 'evrepl.verification.v1';
// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): SEQUENCE { SEQUENCE { OID
// 1.3.101.112 }, BIT STRING (33 bytes: 0 unused bits + the 32-byte key) }.
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

class Canon {
  constructor() {
    this.parts = [];
  }

  u8(v) {
    this.parts.push(Buffer.from([v & 0xff]));
  }

  bool(v) {
    this.u8(v ? 1 : 0);
  }

  u32(v) {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(Number(BigInt.asUintN(32, BigInt(v))), 0);
    this.parts.push(b);
  }

  u64(v) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt.asUintN(64, BigInt(v)), 0);
    this.parts.push(b);
  }

  i64(v) {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(BigInt.asIntN(64, BigInt(v)), 0);
    this.parts.push(b);
  }

  bytes(b) {
    this.u32(b.length);
    this.parts.push(Buffer.from(b));
  }

  str(s) {
    this.bytes(Buffer.from(s, 'utf8'));
  }

  strv(v) {
    this.u32(v.length);
    for (const s of v) this.str(s);
  }

  done() {
    return Buffer.concat(this.parts);
  }
}

/** The bytes a receipt's signature covers (evri_receipt_canonical). */
function receiptCanonicalBytes(r) {
  const c = new Canon();
  c.str(RECEIPT_TAG);
  c.str(r.eventId);
  c.u32(r.status);
  c.i64(r.timestamp.seconds);
  c.u32(r.timestamp.nanos);
  c.bytes(r.contentHash);
  c.strv(r.replicaIds);
  c.u32(r.acks.length);
  for (const a of r.acks) {
    c.str(a.replicaId);
    c.u32(a.state);
    c.bytes(a.observedContentHash);
    c.str(a.detail);
  }
  c.str(r.signerKeyId);
  return c.done();
}

/** The bytes a verification result's signature covers (evri_verification_canonical). */
function verificationCanonicalBytes(v) {
  const c = new Canon();
  c.str(VERIFICATION_TAG);
  c.bool(v.headHashMatch);
  c.bool(v.signatureValid);
  c.bool(v.schemaVersionMatch);
  c.strv(v.errors);
  c.u32(v.replicas.length);
  for (const r of v.replicas) {
    c.str(r.replicaId);
    c.bool(r.reachable);
    c.u64(r.headSequence);
    c.bytes(r.headHash);
    c.bool(r.headHashMatch);
    c.u64(r.lagEvents);
    c.bool(r.signatureValid);
    c.bool(r.chainValid);
    c.str(r.schemaVersion);
    c.bool(r.schemaVersionMatch);
    c.strv(r.errors);
    c.u64(r.eventsChecked);
    c.u64(r.divergedAtSequence);
  }
  c.i64(v.checkedAt.seconds);
  c.u32(v.checkedAt.nanos);
  c.u64(v.primaryHeadSequence);
  c.bytes(v.primaryHeadHash);
  c.str(v.schemaVersion);
  c.str(v.signerKeyId);
  return c.done();
}

/** 32 raw bytes from a Buffer/Uint8Array or 64 hex digits (the FILE.pub line of `evrepl keygen`). */
function publicKeyBytes(pk) {
  let b;
  if (typeof pk === 'string') {
    const s = pk.trim();
    if (!/^[0-9a-fA-F]*$/.test(s) || s.length % 2) throw new EvreplError(Code.INVALID_ARGUMENT, 'the public key is not hex');
    b = Buffer.from(s, 'hex');
  } else {
    b = Buffer.from(pk);
  }
  if (b.length !== PUBLIC_KEY_BYTES) {
    throw new EvreplError(Code.INVALID_ARGUMENT, `an Ed25519 public key is ${PUBLIC_KEY_BYTES} bytes, not ${b.length}`);
  }
  return b;
}

/** Lowercase hex of the first 16 bytes of SHA-256(public key). */
function keyId(pk) {
  return crypto.createHash('sha256').update(publicKeyBytes(pk)).digest().subarray(0, 16).toString('hex');
}

/** True when signature is a valid Ed25519 signature of message by the raw public key. */
function ed25519Verify(pk, message, signature) {
  if (!signature || signature.length !== SIGNATURE_BYTES) return false;
  const key = crypto.createPublicKey({
    key: Buffer.concat([ED25519_SPKI_PREFIX, publicKeyBytes(pk)]),
    format: 'der',
    type: 'spki',
  });
  return crypto.verify(null, message, key, signature);
}

function check(canonical, signature, signerKeyId, pk, what) {
  if (!signature || signature.length === 0) {
    throw new EvreplError(Code.FAILED_PRECONDITION, `the ${what} is unsigned (the server has no receipt key)`);
  }
  const want = keyId(pk);
  if (signerKeyId !== want) {
    throw new EvreplError(Code.INVALID_ARGUMENT, `the ${what} was signed by key ${signerKeyId.slice(0, 64)}, not by key ${want}`);
  }
  if (!ed25519Verify(pk, canonical, signature)) {
    throw new EvreplError(Code.INVALID_ARGUMENT, `the ${what}'s signature does not verify: it was altered after signing`);
  }
}

/**
 * Checks a receipt's signature offline; returns when it is valid. Throws EvreplError:
 * FAILED_PRECONDITION when the receipt is unsigned, INVALID_ARGUMENT when it was signed by
 * another key or altered (as evrepl_receipt_verify_signature). publicKey: Describe's
 * receiptPublicKey, or one the auditor pinned (Buffer or hex).
 */
function verifyReceipt(receipt, publicKey) {
  check(receiptCanonicalBytes(receipt), receipt.signature, receipt.signerKeyId, publicKey, 'receipt');
}

/** The same for a verification result (a signed checkpoint of the replicas' heads). */
function verifyVerification(result, publicKey) {
  check(verificationCanonicalBytes(result), result.signature, result.signerKeyId, publicKey, 'verification result');
}

module.exports = {
  RECEIPT_TAG,
  VERIFICATION_TAG,
  receiptCanonicalBytes,
  verificationCanonicalBytes,
  keyId,
  publicKeyBytes,
  ed25519Verify,
  verifyReceipt,
  verifyVerification,
};
