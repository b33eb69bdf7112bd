'use strict';
// Typed results: plain objects with camelCase names, converted from the wire messages.
// 64-bit integers are BigInt (uint64 sequences, Timestamp.seconds); bytes are Buffers; enums
// are numbers (a number the enum does not know is kept as is; see the *Name helpers).

const pb = require('./proto');
const { Code, EvreplError } = require('./errors');

const HASH_BYTES = 32;
const SIGNATURE_BYTES = 64;
const PUBLIC_KEY_BYTES = 32;
const UUID_STR_LEN = 36;
const KEY_ID_MAX = 64;

const byValue = (values) => Object.fromEntries(Object.entries(values).map(([k, v]) => [v, k]));
const RS_NAMES = byValue(pb.ReplicationStatus);
const ACK_NAMES = byValue(pb.AckState);
const SERVING_NAMES = byValue(pb.ServingStatus);
const nameOf = (names, v) => (Object.prototype.hasOwnProperty.call(names, v) ? names[v] : 'UNKNOWN_VALUE');

const replicationStatusName = (v) => nameOf(RS_NAMES, v);
const ackStateName = (v) => nameOf(ACK_NAMES, v);
const servingStatusName = (v) => nameOf(SERVING_NAMES, v);

function big(v) {
  if (v === undefined || v === null) return 0n;
  if (typeof v === 'number' || typeof v === 'bigint') return BigInt(v);
  return BigInt(v.toString()); // Long
}

const bytes = (v) => Buffer.from(v || []);

function bad(why) {
  return new EvreplError(Code.INTERNAL, `malformed response from server: ${why}`);
}

/** A bytes field that must be empty or exactly `want` bytes (as the C client checks). */
function fixed(v, want, what) {
  const b = bytes(v);
  if (b.length !== 0 && b.length !== want) throw bad(`${what} has the wrong length (${b.length} bytes)`);
  return b;
}

/** google.protobuf.Timestamp: seconds (BigInt) and nanos since the Unix epoch, UTC. */
class Timestamp {
  constructor(seconds = 0n, nanos = 0) {
    this.seconds = BigInt(seconds);
    this.nanos = nanos;
  }

  toDate() {
    return new Date(Number(this.seconds) * 1000 + Math.floor(this.nanos / 1e6));
  }
}

const ts = (m) => (m ? new Timestamp(big(m.seconds), m.nanos || 0) : new Timestamp());

function receiptFromWire(m) {
  const eventId = m.eventId || '';
  const signerKeyId = m.signerKeyId || '';
  if (eventId.length > UUID_STR_LEN || signerKeyId.length > KEY_ID_MAX) throw bad('event_id or signer_key_id too long');
  return {
    eventId,
    replicaIds: [...(m.replicaIds || [])],
    status: m.status || 0,
    timestamp: ts(m.timestamp),
    acks: (m.acks || []).map((a) => ({
      replicaId: a.replicaId || '',
      state: a.state || 0,
      observedContentHash: fixed(a.observedContentHash, HASH_BYTES, 'observed_content_hash'),
      detail: a.detail || '',
    })),
    contentHash: fixed(m.contentHash, HASH_BYTES, 'content_hash'),
    signature: fixed(m.signature, SIGNATURE_BYTES, 'signature'),
    signerKeyId,
  };
}

function verificationFromWire(m) {
  const signerKeyId = m.signerKeyId || '';
  if (signerKeyId.length > KEY_ID_MAX) throw bad('signer_key_id too long');
  return {
    headHashMatch: !!m.headHashMatch,
    signatureValid: !!m.signatureValid,
    schemaVersionMatch: !!m.schemaVersionMatch,
    errors: [...(m.errors || [])],
    replicas: (m.replicas || []).map((r) => ({
      replicaId: r.replicaId || '',
      reachable: !!r.reachable,
      headSequence: big(r.headSequence),
      headHash: fixed(r.headHash, HASH_BYTES, "a replica's head_hash"),
      headHashMatch: !!r.headHashMatch,
      lagEvents: big(r.lagEvents),
      signatureValid: !!r.signatureValid,
      chainValid: !!r.chainValid,
      schemaVersion: r.schemaVersion || '',
      schemaVersionMatch: !!r.schemaVersionMatch,
      errors: [...(r.errors || [])],
      eventsChecked: big(r.eventsChecked),
      divergedAtSequence: big(r.divergedAtSequence),
    })),
    checkedAt: ts(m.checkedAt),
    primaryHeadSequence: big(m.primaryHeadSequence),
    primaryHeadHash: fixed(m.primaryHeadHash, HASH_BYTES, 'primary_head_hash'),
    schemaVersion: m.schemaVersion || '',
    signature: fixed(m.signature, SIGNATURE_BYTES, 'signature'),
    signerKeyId,
  };
}

/** True when the three booleans are true and there are no errors (contract.md). */
function isValid(v) {
  return v.headHashMatch && v.signatureValid && v.schemaVersionMatch && v.errors.length === 0;
}

function descriptionFromWire(m) {
  return {
    version: m.version || '',
    backend: m.backend || '',
    methods: [...(m.methods || [])],
    replicaIds: [...(m.replicaIds || [])],
    schemaVersion: m.schemaVersion || '',
    devMode: !!m.devMode,
    receiptKeyId: m.receiptKeyId || '',
    receiptPublicKey: fixed(m.receiptPublicKey, PUBLIC_KEY_BYTES, 'receipt_public_key'),
  };
}

module.exports = {
  HASH_BYTES,
  SIGNATURE_BYTES,
  PUBLIC_KEY_BYTES,
  ReplicationStatus: pb.ReplicationStatus,
  AckState: pb.AckState,
  ServingStatus: pb.ServingStatus,
  replicationStatusName,
  ackStateName,
  servingStatusName,
  Timestamp,
  receiptFromWire,
  verificationFromWire,
  descriptionFromWire,
  isValid,
};
