"""Offline checks of the server's Ed25519 signatures on receipts and verification results.

The signed bytes ("canonical bytes") are those of src/domain/receipt.c and canon.c:
big-endian integers, strings and byte strings as a u32 length then the bytes, string lists as
a u32 count then each string, booleans as one byte 0/1, each encoding starting with a
length-prefixed domain tag. signer_key_id is covered; the signature itself is not.
A key id is the lowercase hex of the first 16 bytes of SHA-256(public key).

Ed25519 comes from python3-nacl (libsodium), imported only when a signature is checked.
"""

import hashlib
import struct

from .errors import Code, EvreplError
from .types import PUBLIC_KEY_BYTES, SIGNATURE_BYTES

RECEIPT_TAG = "evrepl.receipt.v1"
VERIFICATION_TAG = "evrepl.verification.v1"


class Canon:
    """Builder of canonical bytes."""

    def __init__(self):
        self.buf = bytearray()

    def u8(self, v):
        self.buf += struct.pack(">B", v)

    def bool(self, v):
        self.u8(1 if v else 0)

    def u32(self, v):
        self.buf += struct.pack(">I", v & 0xFFFFFFFF)

    def u64(self, v):
        self.buf += struct.pack(">Q", v & 0xFFFFFFFFFFFFFFFF)

    def i64(self, v):
        self.buf += struct.pack(">q", v)

    def bytes(self, b):
        self.u32(len(b))
        self.buf += b

    def str(self, s):
        self.bytes(s.encode("utf-8"))

    def strv(self, v):
        self.u32(len(v))
        for s in v:
            self.str(s)


def receipt_canonical_bytes(r):
    """The bytes a receipt's signature covers (evri_receipt_canonical)."""
    c = Canon()
    c.str(RECEIPT_TAG)
    c.str(r.event_id)
    c.u32(int(r.status))
    c.i64(r.timestamp.seconds)
    c.u32(r.timestamp.nanos)
    c.bytes(r.content_hash)
    c.strv(r.replica_ids)
    c.u32(len(r.acks))
    for a in r.acks:
        c.str(a.replica_id)
        c.u32(int(a.state))
        c.bytes(a.observed_content_hash)
        c.str(a.detail)
    c.str(r.signer_key_id)
    return bytes(c.buf)


def verification_canonical_bytes(v):
    """The bytes a verification result's signature covers (evri_verification_canonical)."""
    c = Canon()
    c.str(VERIFICATION_TAG)
    c.bool(v.head_hash_match)
    c.bool(v.signature_valid)
    c.bool(v.schema_version_match)
    c.strv(v.errors)
    c.u32(len(v.replicas))
    for r in v.replicas:
        c.str(r.replica_id)
        c.bool(r.reachable)
        c.u64(r.head_sequence)
        c.bytes(r.head_hash)
        c.bool(r.head_hash_match)
        c.u64(r.lag_events)
        c.bool(r.signature_valid)
        c.bool(r.chain_valid)
        c.str(r.schema_version)
        c.bool(r.schema_version_match)
        c.strv(r.errors)
        c.u64(r.events_checked)
        c.u64(r.diverged_at_sequence)
    c.i64(v.checked_at.seconds)
    c.u32(v.checked_at.nanos)
    c.u64(v.primary_head_sequence)
    c.bytes(v.primary_head_hash)
    c.str(v.schema_version)
    c.str(v.signer_key_id)
    return bytes(c.buf)


def public_key_bytes(public_key):
    """32 raw bytes from raw bytes or 64 hex digits (the FILE.pub line of `evrepl keygen`)."""
    if isinstance(public_key, str):
        try:
            public_key = bytes.fromhex(public_key.strip())
        except ValueError:
            raise EvreplError(Code.INVALID_ARGUMENT, "the public key is not hex") from None
    public_key = bytes(public_key)
    if len(public_key) != PUBLIC_KEY_BYTES:
        raise EvreplError(Code.INVALID_ARGUMENT,
                          f"an Ed25519 public key is {PUBLIC_KEY_BYTES} bytes, not {len(public_key)}")
    return public_key


def key_id(public_key):
    """Lowercase hex of the first 16 bytes of SHA-256(public key)."""
    return hashlib.sha256(public_key_bytes(public_key)).digest()[:16].hex()


def ed25519_verify(public_key, message, signature):
    """True when signature is a valid Ed25519 signature of message by public_key."""
    import nacl.exceptions
    import nacl.signing

    if len(signature) != SIGNATURE_BYTES:
        return False
    try:
        nacl.signing.VerifyKey(public_key_bytes(public_key)).verify(message, signature)
        return True
    except nacl.exceptions.BadSignatureError:
        return False


def _check(canonical, signature, signer_key_id, public_key, what):
    if not signature:
        raise EvreplError(Code.FAILED_PRECONDITION, f"the {what} is unsigned (the server has no receipt key)")
    want = key_id(public_key)
    if signer_key_id != want:
        raise EvreplError(Code.INVALID_ARGUMENT,
                          f"the {what} was signed by key {signer_key_id[:64]}, not by key {want}")
    if not ed25519_verify(public_key, canonical, signature):
        raise EvreplError(Code.INVALID_ARGUMENT,
                          f"the {what}'s signature does not verify: it was altered after signing")


def verify_receipt(receipt, public_key):
    """Checks a receipt's signature offline; returns None when it is valid.

    Raises EvreplError: FAILED_PRECONDITION when the receipt is unsigned, INVALID_ARGUMENT
    when it was signed by another key or altered (as evrepl_receipt_verify_signature).
    public_key: Describe's receipt_public_key, or one the auditor pinned (bytes or hex).
    """
    _check(receipt_canonical_bytes(receipt), receipt.signature, receipt.signer_key_id, public_key, "receipt")


def verify_verification(result, public_key):
    """The same for a verification result (a signed checkpoint of the replicas' heads)."""
    _check(verification_canonical_bytes(result), result.signature, result.signer_key_id, public_key,
           "verification result")
