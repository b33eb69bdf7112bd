"""Offline checks against the shared test vectors (no server needed)."""

import dataclasses
import json
import unittest

import nacl.exceptions
import nacl.signing

from support import CLIENT_VECTORS_DIR, VECTORS_DIR

import evrepl  # noqa: E402
from evrepl import _schema as pb  # noqa: E402
from evrepl import events, types  # noqa: E402


def flip(b, i):
    b = bytearray(b)
    b[i] ^= 0x01
    return bytes(b)


class ReceiptVectorsTest(unittest.TestCase):
    """tests/clients/vectors/receipt-vectors.json: messages and signatures made by evrepld."""

    @classmethod
    def setUpClass(cls):
        cls.doc = json.loads((CLIENT_VECTORS_DIR / "receipt-vectors.json").read_text())
        cls.pk = bytes.fromhex(cls.doc["public_key_hex"])

    def server_signed(self, canonical, signature):
        """The server's signature verifies over these bytes (checked with nacl directly)."""
        try:
            nacl.signing.VerifyKey(self.pk).verify(canonical, signature)
            return True
        except nacl.exceptions.BadSignatureError:
            return False

    def test_key_id(self):
        self.assertEqual(evrepl.key_id(self.pk), self.doc["key_id"])
        self.assertEqual(evrepl.key_id(self.doc["public_key_hex"]), self.doc["key_id"])

    def test_vector_files_have_both_kinds(self):
        self.assertGreaterEqual(len(self.doc["receipts"]), 2)
        self.assertGreaterEqual(len(self.doc["verifications"]), 2)

    def check(self, vec, msg_cls, from_wire, canonical_of, verify):
        msg = msg_cls.FromString(bytes.fromhex(vec["message_hex"]))
        obj = from_wire(msg)
        canonical = bytes.fromhex(vec["canonical_hex"])
        sig = bytes.fromhex(vec["signature_hex"])
        self.assertEqual(obj.signature, sig)
        self.assertEqual(obj.signer_key_id, self.doc["key_id"])
        self.assertTrue(self.server_signed(canonical, sig), "vector file inconsistent")
        self.assertEqual(canonical_of(obj), canonical)
        verify(obj, self.pk)
        # Any changed byte of the signed bytes breaks the signature.
        for i in (0, len(canonical) // 2, len(canonical) - 1):
            self.assertFalse(self.server_signed(flip(canonical, i), sig))
        return obj

    def test_receipts(self):
        for vec in self.doc["receipts"]:
            with self.subTest(name=vec["name"]):
                r = self.check(vec, pb.ReplicationReceipt, types.receipt_from_wire,
                               evrepl.receipt_canonical_bytes, evrepl.verify_receipt)
                with self.assertRaises(evrepl.EvreplError) as cm:
                    evrepl.verify_receipt(dataclasses.replace(r, event_id=r.event_id.upper()), self.pk)
                self.assertEqual(cm.exception.code, evrepl.Code.INVALID_ARGUMENT)

    def test_verifications(self):
        for vec in self.doc["verifications"]:
            with self.subTest(name=vec["name"]):
                v = self.check(vec, pb.VerificationResult, types.verification_from_wire,
                               evrepl.verification_canonical_bytes, evrepl.verify_verification)
                with self.assertRaises(evrepl.EvreplError) as cm:
                    evrepl.verify_verification(dataclasses.replace(v, head_hash_match=not v.head_hash_match), self.pk)
                self.assertEqual(cm.exception.code, evrepl.Code.INVALID_ARGUMENT)

    def test_canonical_encoding_rules(self):
        # receipt.c / canon.c: the tag first, as a u32 big-endian length and the bytes.
        r = types.receipt_from_wire(pb.ReplicationReceipt.FromString(bytes.fromhex(self.doc["receipts"][0]["message_hex"])))
        c = evrepl.receipt_canonical_bytes(r)
        tag = b"evrepl.receipt.v1"
        self.assertEqual(c[:4], len(tag).to_bytes(4, "big"))
        self.assertEqual(c[4:4 + len(tag)], tag)
        eid = r.event_id.encode()
        self.assertEqual(c[4 + len(tag):8 + len(tag)], len(eid).to_bytes(4, "big"))
        # signer_key_id closes the encoding.
        kid = r.signer_key_id.encode()
        self.assertEqual(c[-len(kid) - 4:], len(kid).to_bytes(4, "big") + kid)


def event_of(v):
    e = v["event"]
    return events.Event(
        event_id=bytes.fromhex(e["event_id_hex"]),
        sequence=e["sequence"],
        event_type=bytes.fromhex(e["event_type_hex"]),
        payload=bytes.fromhex(e["payload_hex"]),
        prev_hash=bytes.fromhex(e["prev_hash_hex"]),
        signing_key_id=e["signing_key_id"],
        created_at_us=e["created_at_us"],
        content_hash=bytes.fromhex(v["content_hash_hex"]),
        signature=bytes.fromhex(v["signature_hex"]),
    )


class EventVectorsTest(unittest.TestCase):
    """tests/vectors/event-vectors.json (docs/event-format.md)."""

    @classmethod
    def setUpClass(cls):
        cls.doc = json.loads((VECTORS_DIR / "event-vectors.json").read_text())

    def test_format(self):
        self.assertEqual(self.doc["format"], "evrepl.event.v1")
        self.assertGreaterEqual(len(self.doc["vectors"]), 1)
        self.assertGreaterEqual(len(self.doc["decode_rejects"]), 1)

    def test_vectors(self):
        for v in self.doc["vectors"]:
            with self.subTest(name=v["name"]):
                pk = bytes.fromhex(v["public_key_hex"])
                # The vector's key pair: the seed determines the public key.
                self.assertEqual(bytes(nacl.signing.SigningKey(bytes.fromhex(v["seed_hex"])).verify_key), pk)
                self.assertEqual(evrepl.key_id(pk), v["key_id"])
                ev = event_of(v)
                self.assertEqual(ev.event_id_text(), v["event"]["event_id"])
                self.assertEqual(events.event_canonical_bytes(ev).hex(), v["canonical_hex"])
                self.assertEqual(events.event_content_hash(ev).hex(), v["content_hash_hex"])
                self.assertIsNone(events.event_field_problem(ev))
                prev = None if ev.sequence == 1 else ev.prev_hash  # link checked in test_chains
                verdict = events.check_event(ev, pk, prev)
                self.assertTrue(verdict.ok, verdict)
                decoded = events.decode_event_canonical(bytes.fromhex(v["canonical_hex"]))
                self.assertEqual(dataclasses.replace(decoded, content_hash=ev.content_hash, signature=ev.signature), ev)

    def test_tampering_is_caught(self):
        v = self.doc["vectors"][0]
        pk = bytes.fromhex(v["public_key_hex"])
        ev = event_of(v)
        for changed in [dataclasses.replace(ev, payload=ev.payload + b"x"),
                        dataclasses.replace(ev, sequence=ev.sequence + 1),
                        dataclasses.replace(ev, event_type=ev.event_type + b"s"),
                        dataclasses.replace(ev, created_at_us=ev.created_at_us + 1)]:
            with self.subTest(changed=changed):
                self.assertFalse(events.check_event(changed, pk).hash_ok)
        bad_sig = dataclasses.replace(ev, signature=flip(ev.signature, 5))
        self.assertFalse(events.check_event(bad_sig, pk).signature_ok)
        other = bytes(nacl.signing.SigningKey(bytes(32)).verify_key)
        self.assertFalse(events.check_event(ev, other).signature_ok)  # another key's id
        self.assertFalse(events.check_event(ev, None).signature_ok)  # key unknown

    def test_chains(self):
        chains = {}
        for v in self.doc["vectors"]:
            if v.get("chain"):
                chains.setdefault(v["chain"], []).append(v)
        self.assertTrue(chains, "the vectors include a chain")
        for name, vs in chains.items():
            with self.subTest(chain=name):
                evs = [event_of(v) for v in vs]
                keys = {v["key_id"]: v["public_key_hex"] for v in vs}
                ok, verdicts = events.check_chain(evs, keys)
                self.assertTrue(ok, verdicts)
                self.assertEqual(evs[0].sequence, 1)
                # A middle event's link breaks when its predecessor changes...
                broken = [evs[0], dataclasses.replace(evs[1], prev_hash=bytes(32))] + evs[2:]
                ok, verdicts = events.check_chain(broken, keys)
                self.assertFalse(ok)
                self.assertFalse(verdicts[1].link_ok)
                # ...and a gap in the sequences fails the chain.
                if len(evs) >= 3:
                    ok, _ = events.check_chain([evs[0], evs[2]], keys)
                    self.assertFalse(ok)

    def test_decode_rejects(self):
        for r in self.doc["decode_rejects"]:
            with self.subTest(name=r["name"], reason=r["reason"]), self.assertRaises(evrepl.EvreplError) as cm:
                events.decode_event_canonical(bytes.fromhex(r["canonical_hex"]))
            self.assertEqual(cm.exception.code, evrepl.Code.INVALID_ARGUMENT)


if __name__ == "__main__":
    unittest.main()
