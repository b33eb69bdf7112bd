'use strict';
// Offline checks of the log's events (docs/event-format.md, evrepl.event.v1).
//
//   canonical    = str "evrepl.event.v1" | bytes event_id (16) | u64 sequence | str event_type
//                | bytes payload | bytes prev_hash (32) | str signing_key_id | i64 created_at_us
//   content_hash = SHA-256(canonical)
//   signature    = Ed25519 over the 32 bytes of content_hash
//
// An event is a plain object: { eventId (16-byte Buffer, or UUID text), sequence (BigInt or
// number), eventType (Buffer of the exact UTF-8 bytes, or a string), payload (Buffer),
// prevHash (32-byte Buffer), signingKeyId (string), createdAtUs (BigInt or number),
// contentHash, signature (Buffers) }.

const crypto = require('crypto');
const { Code, EvreplError } = require('./errors');
const { ed25519Verify, keyId } = require('./signing');

const EVENT_TAG = Buffer.from('evrepl.event.v1', 'ascii');
const EVENT_ID_BYTES = 16;
const HASH_BYTES = 32;
const EVENT_TYPE_MAX_BYTES = 255;
const CREATED_AT_MIN_US = -210866803200000000n; // 4714-11-24 00:00:00 UTC BC
const INT64_MAX = (1n << 63n) - 1n;
const ZERO_HASH = Buffer.alloc(HASH_BYTES);

function eventIdBytes(id) {
  if (typeof id === 'string') {
    if (!/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(id)) {
      throw new EvreplError(Code.INVALID_ARGUMENT, `event id '${id}' is not a canonical UUID`);
    }
    return Buffer.from(id.replaceAll('-', ''), 'hex');
  }
  return Buffer.from(id);
}

const typeBytes = (t) => (typeof t === 'string' ? Buffer.from(t, 'utf8') : Buffer.from(t));

function lenPrefixed(b) {
  const n = Buffer.alloc(4);
  n.writeUInt32BE(b.length, 0);
  return Buffer.concat([n, b]);
}

/** The canonical bytes (no validation: any field values have an encoding). */
function eventCanonicalBytes(ev) {
  const seq = Buffer.alloc(8);
  seq.writeBigUInt64BE(BigInt.asUintN(64, BigInt(ev.sequence)), 0);
  const at = Buffer.alloc(8);
  at.writeBigInt64BE(BigInt.asIntN(64, BigInt(ev.createdAtUs)), 0);
  return Buffer.concat([
    lenPrefixed(EVENT_TAG),
    lenPrefixed(eventIdBytes(ev.eventId)),
    seq,
    lenPrefixed(typeBytes(ev.eventType)),
    lenPrefixed(Buffer.from(ev.payload)),
    lenPrefixed(Buffer.from(ev.prevHash)),
    lenPrefixed(Buffer.from(ev.signingKeyId, 'utf8')),
    at,
  ]);
}

/** SHA-256 of the canonical bytes. */
function eventContentHash(ev) {
  return crypto.createHash('sha256').update(eventCanonicalBytes(ev)).digest();
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The first broken field rule of docs/event-format.md, or null. */
function eventFieldProblem(ev) {
  const seq = BigInt(ev.sequence);
  if (seq < 1n || seq > INT64_MAX) return 'sequence must be 1..2^63-1';
  const t = typeBytes(ev.eventType);
  if (t.length < 1 || t.length > EVENT_TYPE_MAX_BYTES) return 'event_type must be 1..255 bytes';
  if (t.includes(0)) return 'event_type must not contain NUL';
  try {
    utf8.decode(t); // refuses overlongs, surrogates, > U+10FFFF
  } catch {
    return 'event_type must be well-formed UTF-8';
  }
  if (eventIdBytes(ev.eventId).length !== EVENT_ID_BYTES) return 'event_id must be 16 bytes';
  const prev = Buffer.from(ev.prevHash);
  if (prev.length !== HASH_BYTES) return 'prev_hash must be 32 bytes';
  if (Buffer.from(ev.payload).length > 0xffffffff) return 'payload must be at most 2^32-1 bytes';
  if (!/^[0-9a-f]{32}$/.test(ev.signingKeyId)) return 'signing_key_id must be 32 lowercase hex digits';
  const at = BigInt(ev.createdAtUs);
  if (at < CREATED_AT_MIN_US || at > INT64_MAX) return "created_at_us is outside PostgreSQL's timestamptz range";
  if (seq === 1n && !prev.equals(ZERO_HASH)) return 'the first event (sequence 1) must have an all-zero prev_hash';
  return null;
}

/**
 * Checks a stored event (as evri_event_check): { fieldsOk, hashOk, signatureOk, linkOk, ok }.
 * publicKey: the key named by signingKeyId, or null when unknown (signatureOk is then false; a
 * key whose id is not signingKeyId never verifies). prevContentHash: the content hash of the
 * event at sequence - 1, or null when unknown (linkOk is then false, except for sequence 1,
 * where the genesis rule applies).
 */
function checkEvent(ev, publicKey = null, prevContentHash = null) {
  const fieldsOk = eventFieldProblem(ev) === null;
  const stored = Buffer.from(ev.contentHash || []);
  const hashOk = stored.equals(eventContentHash(ev));
  const signatureOk = publicKey !== null && publicKey !== undefined && keyId(publicKey) === ev.signingKeyId &&
    ed25519Verify(publicKey, stored, Buffer.from(ev.signature || []));
  const prev = Buffer.from(ev.prevHash);
  const linkOk = BigInt(ev.sequence) === 1n
    ? prev.equals(ZERO_HASH)
    : prevContentHash !== null && prevContentHash !== undefined && prev.equals(Buffer.from(prevContentHash));
  return { fieldsOk, hashOk, signatureOk, linkOk, ok: fieldsOk && hashOk && signatureOk && linkOk };
}

/**
 * Checks consecutive events. publicKeys maps key id -> public key (Buffer or hex).
 * prevContentHash: the hash before the first event, when it is not sequence 1.
 * Returns { ok, verdicts }: ok when every event is sound and the sequences run on by one.
 */
function checkChain(events, publicKeys, prevContentHash = null) {
  const verdicts = [];
  let ok = true;
  let prev = prevContentHash;
  let prevSeq = null;
  for (const ev of events) {
    const v = checkEvent(ev, publicKeys[ev.signingKeyId] ?? null, prev);
    verdicts.push(v);
    if (!v.ok || (prevSeq !== null && BigInt(ev.sequence) !== prevSeq + 1n)) ok = false;
    prev = ev.contentHash;
    prevSeq = BigInt(ev.sequence);
  }
  return { ok, verdicts };
}

/**
 * Strict decoder of canonical bytes into an event (contentHash and signature empty). Throws
 * EvreplError INVALID_ARGUMENT for anything docs/event-format.md makes invalid, so every
 * accepted input re-encodes to exactly itself.
 */
function decodeEventCanonical(data) {
  const buf = Buffer.from(data);
  let pos = 0;
  const bad = (why) => new EvreplError(Code.INVALID_ARGUMENT, `not canonical evrepl.event.v1 bytes: ${why}`);
  const take = (n) => {
    if (buf.length - pos < n) throw bad('a field runs past the end');
    const out = buf.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  const lbytes = () => take(take(4).readUInt32BE(0));
  if (!lbytes().equals(EVENT_TAG)) throw bad('the tag is not evrepl.event.v1');
  const eventId = Buffer.from(lbytes());
  const sequence = take(8).readBigUInt64BE(0);
  const eventType = Buffer.from(lbytes());
  const payload = Buffer.from(lbytes());
  const prevHash = Buffer.from(lbytes());
  const kid = lbytes();
  const createdAtUs = take(8).readBigInt64BE(0);
  if (pos !== buf.length) throw bad('bytes follow created_at_us');
  if (!/^[\x20-\x7e]*$/.test(kid.toString('latin1'))) throw bad('signing_key_id is not hex');
  const ev = {
    eventId, sequence, eventType, payload, prevHash, signingKeyId: kid.toString('ascii'), createdAtUs,
    contentHash: Buffer.alloc(0), signature: Buffer.alloc(0),
  };
  const why = eventFieldProblem(ev);
  if (why) throw bad(why);
  return ev;
}

module.exports = {
  EVENT_TAG,
  eventCanonicalBytes,
  eventContentHash,
  eventFieldProblem,
  checkEvent,
  checkChain,
  decodeEventCanonical,
};
