"""Offline checks of the log's events (docs/event-format.md, evrepl.event.v1).

An auditor who reads events (from a replica, an export) recomputes each one's canonical bytes
and content hash, checks its Ed25519 signature under the key its signing_key_id names, and
checks its link to the predecessor. Nothing here talks to the server.

    canonical    = str "evrepl.event.v1" | bytes event_id (16) | u64 sequence | str event_type
                 | bytes payload | bytes prev_hash (32) | str signing_key_id | i64 created_at_us
    content_hash = SHA-256(canonical)
    signature    = Ed25519 over the 32 bytes of content_hash
"""

import dataclasses
import hashlib
import struct
import uuid as _uuid
from typing import Optional

from .errors import Code, EvreplError
from .signing import ed25519_verify, key_id

EVENT_TAG = b"evrepl.event.v1"
EVENT_ID_BYTES = 16
HASH_BYTES = 32
EVENT_TYPE_MAX_BYTES = 255
CREATED_AT_MIN_US = -210866803200000000  # 4714-11-24 00:00:00 UTC BC, PostgreSQL's oldest
INT64_MAX = (1 << 63) - 1
_HEX = frozenset(b"0123456789abcdef")


@dataclasses.dataclass
class Event:
    """One event of the log. event_id is the 16 raw bytes (event_id_text() gives the UUID);
    event_type the exact UTF-8 bytes as stored (a str is encoded as UTF-8)."""

    event_id: bytes
    sequence: int
    event_type: bytes
    payload: bytes
    prev_hash: bytes
    signing_key_id: str
    created_at_us: int
    content_hash: bytes = b""
    signature: bytes = b""

    def __post_init__(self):
        if isinstance(self.event_id, str):
            self.event_id = _uuid.UUID(self.event_id).bytes
        if isinstance(self.event_type, str):
            self.event_type = self.event_type.encode("utf-8")
        self.event_id = bytes(self.event_id)
        self.event_type = bytes(self.event_type)
        self.payload = bytes(self.payload)
        self.prev_hash = bytes(self.prev_hash)
        self.content_hash = bytes(self.content_hash)
        self.signature = bytes(self.signature)

    def event_id_text(self):
        return str(_uuid.UUID(bytes=self.event_id))


@dataclasses.dataclass(frozen=True)
class EventVerdict:
    """What check_event() found; the event is sound only when all four hold."""

    fields_ok: bool
    hash_ok: bool
    signature_ok: bool
    link_ok: bool

    @property
    def ok(self):
        return self.fields_ok and self.hash_ok and self.signature_ok and self.link_ok


def event_field_problem(ev):
    """The first broken field rule of docs/event-format.md, or None."""
    if not 1 <= ev.sequence <= INT64_MAX:
        return "sequence must be 1..2^63-1"
    t = ev.event_type
    if not 1 <= len(t) <= EVENT_TYPE_MAX_BYTES:
        return "event_type must be 1..255 bytes"
    if b"\x00" in t:
        return "event_type must not contain NUL"
    try:
        t.decode("utf-8", errors="strict")  # refuses overlongs, surrogates, > U+10FFFF
    except UnicodeDecodeError:
        return "event_type must be well-formed UTF-8"
    if len(ev.event_id) != EVENT_ID_BYTES:
        return "event_id must be 16 bytes"
    if len(ev.prev_hash) != HASH_BYTES:
        return "prev_hash must be 32 bytes"
    if len(ev.payload) > 0xFFFFFFFF:
        return "payload must be at most 2^32-1 bytes"
    k = ev.signing_key_id.encode("utf-8")
    if len(k) != 32 or any(c not in _HEX for c in k):
        return "signing_key_id must be 32 lowercase hex digits"
    if ev.created_at_us < CREATED_AT_MIN_US or ev.created_at_us > INT64_MAX:
        return "created_at_us is outside PostgreSQL's timestamptz range"
    if ev.sequence == 1 and ev.prev_hash != bytes(HASH_BYTES):
        return "the first event (sequence 1) must have an all-zero prev_hash"
    return None


def _b(data):
    return struct.pack(">I", len(data)) + data


def event_canonical_bytes(ev):
    """The canonical bytes (no validation: any field values have an encoding)."""
    return (_b(EVENT_TAG) + _b(ev.event_id) + struct.pack(">Q", ev.sequence & 0xFFFFFFFFFFFFFFFF)
            + _b(ev.event_type) + _b(ev.payload) + _b(ev.prev_hash)
            + _b(ev.signing_key_id.encode("utf-8")) + struct.pack(">q", ev.created_at_us))


def event_content_hash(ev):
    """SHA-256 of the canonical bytes."""
    return hashlib.sha256(event_canonical_bytes(ev)).digest()


def check_event(ev, public_key=None, prev_content_hash: Optional[bytes] = None):
    """Checks a stored event: fields, hash, signature, link (as evri_event_check).

    public_key: the key named by ev.signing_key_id, or None when unknown (signature_ok is
    then False; a key whose id is not signing_key_id never verifies). prev_content_hash: the
    content hash of the event at sequence - 1, or None when unknown (link_ok is then False
    except for sequence 1, where the genesis rule applies).
    """
    fields_ok = event_field_problem(ev) is None
    hash_ok = ev.content_hash == event_content_hash(ev)
    signature_ok = (public_key is not None and key_id(public_key) == ev.signing_key_id
                    and ed25519_verify(public_key, ev.content_hash, ev.signature))
    if ev.sequence == 1:
        link_ok = ev.prev_hash == bytes(HASH_BYTES)
    else:
        link_ok = prev_content_hash is not None and ev.prev_hash == bytes(prev_content_hash)
    return EventVerdict(fields_ok, hash_ok, signature_ok, link_ok)


def check_chain(events, public_keys, prev_content_hash=None):
    """Checks consecutive events. public_keys maps key id -> public key (bytes or hex).
    prev_content_hash: the hash before the first event, when it is not sequence 1.

    Returns (ok, verdicts): ok when every event is sound and the sequences run on by one
    without a gap or a repeat."""
    verdicts, ok, prev, prev_seq = [], True, prev_content_hash, None
    for ev in events:
        v = check_event(ev, public_keys.get(ev.signing_key_id), prev)
        verdicts.append(v)
        if not v.ok or (prev_seq is not None and ev.sequence != prev_seq + 1):
            ok = False
        prev, prev_seq = ev.content_hash, ev.sequence
    return ok, verdicts


def decode_event_canonical(data):
    """Strict decoder of canonical bytes into an Event (content_hash and signature empty).
    Raises EvreplError INVALID_ARGUMENT for anything docs/event-format.md makes invalid, so
    every accepted input re-encodes to exactly itself."""
    data = bytes(data)
    pos = 0

    def bad(why):
        return EvreplError(Code.INVALID_ARGUMENT, f"not canonical evrepl.event.v1 bytes: {why}")

    def take(n):
        nonlocal pos
        if len(data) - pos < n:
            raise bad("a field runs past the end")
        out = data[pos:pos + n]
        pos += n
        return out

    def lbytes():
        (n,) = struct.unpack(">I", take(4))
        return take(n)

    if lbytes() != EVENT_TAG:
        raise bad("the tag is not evrepl.event.v1")
    event_id = lbytes()
    (sequence,) = struct.unpack(">Q", take(8))
    event_type = lbytes()
    payload = lbytes()
    prev_hash = lbytes()
    signing_key_id = lbytes()
    (created_at_us,) = struct.unpack(">q", take(8))
    if pos != len(data):
        raise bad("bytes follow created_at_us")
    try:
        kid = signing_key_id.decode("ascii")
    except UnicodeDecodeError:
        raise bad("signing_key_id is not hex") from None
    ev = Event(event_id, sequence, event_type, payload, prev_hash, kid, created_at_us)
    why = event_field_problem(ev)
    if why:
        raise bad(why)
    return ev
