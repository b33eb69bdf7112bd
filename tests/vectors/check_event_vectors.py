#!/usr/bin/env python3
"""Independent check of tests/vectors/event-vectors.json against docs/event-format.md.

Written from the spec alone (Python standard library hashlib and struct, and PyNaCl for
Ed25519), sharing no code with the C implementation. For every vector it rebuilds the
canonical bytes from the fields, recomputes the content hash, re-derives the key pair from the
seed, re-signs (Ed25519 is deterministic) and verifies, checks chain links, and decodes the
canonical bytes back into the fields; every entry of decode_rejects must be refused by the
strict decoder below.

usage: check_event_vectors.py [event-vectors.json]     exit 0 when everything holds
"""
import hashlib
import json
import os
import struct
import sys

try:
    from nacl.signing import SigningKey, VerifyKey
    from nacl.exceptions import BadSignatureError
except ImportError:
    sys.exit("check_event_vectors: PyNaCl is missing (Debian: apt-get install python3-nacl)")

TAG = b"evrepl.event.v1"
CREATED_AT_MIN_US = -210866803200000000
INT64_MAX = (1 << 63) - 1


def bstr(b):
    return struct.pack(">I", len(b)) + b


def canonical(f):
    return (bstr(TAG) + bstr(f["event_id"]) + struct.pack(">Q", f["sequence"]) +
            bstr(f["event_type"]) + bstr(f["payload"]) + bstr(f["prev_hash"]) +
            bstr(f["signing_key_id"]) + struct.pack(">q", f["created_at_us"]))


def validate(f):
    """The field rules; returns the first broken one or None."""
    if not 1 <= f["sequence"] <= INT64_MAX:
        return "sequence"
    t = f["event_type"]
    if not 1 <= len(t) <= 255 or b"\x00" in t:
        return "event_type length or NUL"
    try:
        t.decode("utf-8", errors="strict")  # rejects overlongs and surrogates
    except UnicodeDecodeError:
        return "event_type UTF-8"
    if len(f["event_id"]) != 16 or len(f["prev_hash"]) != 32:
        return "sizes"
    k = f["signing_key_id"]
    if len(k) != 32 or any(c not in b"0123456789abcdef" for c in k):
        return "signing_key_id"
    if f["created_at_us"] < CREATED_AT_MIN_US:
        return "created_at_us"
    if f["sequence"] == 1 and f["prev_hash"] != bytes(32):
        return "genesis prev_hash"
    return None


class Reject(Exception):
    pass


def decode(b):
    """Strict decoder: returns the fields or raises Reject."""
    pos = 0

    def take(n):
        nonlocal pos
        if len(b) - pos < n:
            raise Reject("runs past the end")
        out = b[pos:pos + n]
        pos += n
        return out

    def lstr():
        (n,) = struct.unpack(">I", take(4))
        return take(n)

    if lstr() != TAG:
        raise Reject("tag")
    f = {"event_id": lstr()}
    (f["sequence"],) = struct.unpack(">Q", take(8))
    f["event_type"] = lstr()
    f["payload"] = lstr()
    f["prev_hash"] = lstr()
    f["signing_key_id"] = lstr()
    (f["created_at_us"],) = struct.unpack(">q", take(8))
    if pos != len(b):
        raise Reject("trailing bytes")
    why = validate(f)
    if why:
        raise Reject(why)
    return f


def fields_of(v):
    e = v["event"]
    f = {
        "event_id": bytes.fromhex(e["event_id_hex"]),
        "sequence": e["sequence"],
        "event_type": bytes.fromhex(e["event_type_hex"]),
        "payload": bytes.fromhex(e["payload_hex"]),
        "prev_hash": bytes.fromhex(e["prev_hash_hex"]),
        "signing_key_id": e["signing_key_id"].encode("ascii"),
        "created_at_us": e["created_at_us"],
    }
    # The readable forms must agree with the exact ones.
    assert e["event_id"].replace("-", "") == e["event_id_hex"], "event_id text vs hex"
    assert e["event_type"].encode("utf-8") == f["event_type"], "event_type text vs hex"
    return f


def check_vector(v, hashes_by_chain):
    name = v["name"]
    seed = bytes.fromhex(v["seed_hex"])
    sk = SigningKey(seed)
    pk = bytes(sk.verify_key)
    expect(pk.hex() == v["public_key_hex"], name, "public key derived from the seed")
    key_id = hashlib.sha256(pk).digest()[:16].hex()
    expect(key_id == v["key_id"], name, "key id = hex(SHA-256(public key)[:16])")
    f = fields_of(v)
    expect(f["signing_key_id"].decode() == key_id, name, "signing_key_id is the key's id")
    expect(validate(f) is None, name, "field rules")
    c = canonical(f)
    expect(c.hex() == v["canonical_hex"], name, "canonical bytes", c.hex())
    h = hashlib.sha256(c).digest()
    expect(h.hex() == v["content_hash_hex"], name, "content hash", h.hex())
    sig = sk.sign(h).signature
    expect(sig.hex() == v["signature_hex"], name, "signature (deterministic Ed25519)", sig.hex())
    try:
        VerifyKey(pk).verify(h, bytes.fromhex(v["signature_hex"]))
    except BadSignatureError:
        expect(False, name, "signature verifies")
    try:
        expect(decode(bytes.fromhex(v["canonical_hex"])) == f, name, "decode gives the fields")
    except Reject as e:
        expect(False, name, "decoder accepts the canonical bytes: %s" % e)
    chain = v.get("chain")
    if chain is not None:
        prev = hashes_by_chain.get(chain)
        if f["sequence"] == 1:
            expect(f["prev_hash"] == bytes(32), name, "genesis prev_hash is zero")
        else:
            expect(prev is not None and prev[0] == f["sequence"] - 1, name,
                   "chain vectors are in sequence order")
            expect(prev[1] == f["prev_hash"], name, "prev_hash is the predecessor's hash")
        hashes_by_chain[chain] = (f["sequence"], h)


failures = []


def expect(ok, name, what, got=None):
    if not ok:
        failures.append("%s: %s does not hold%s" % (name, what, "" if got is None else
                                                     " (computed %s)" % got))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "event-vectors.json")
    with open(path, encoding="utf-8") as fh:
        doc = json.load(fh)
    if doc.get("format") != "evrepl.event.v1":
        sys.exit("check_event_vectors: %s is not an evrepl.event.v1 vector file" % path)
    chains = {}
    for v in doc["vectors"]:
        check_vector(v, chains)
    for r in doc["decode_rejects"]:
        try:
            decode(bytes.fromhex(r["canonical_hex"]))
            failures.append("%s: the decoder accepted bytes it must reject (%s)" %
                            (r["name"], r["reason"]))
        except Reject:
            pass
    for f in failures:
        print("FAIL", f)
    print("%d vectors, %d rejects checked: %s" % (len(doc["vectors"]), len(doc["decode_rejects"]),
                                                 "ok" if not failures else "FAILED"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
