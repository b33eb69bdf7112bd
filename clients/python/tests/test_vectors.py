"""Offline checks against the shared test vectors (no server needed)."""

import dataclasses
import json
import unittest

import nacl.exceptions
import nacl.signing

from support import CLIENT_VECTORS_DIR

import evrepl  # noqa: E402
from evrepl import _schema as pb  # noqa: E402
from evrepl import types  # noqa: E402


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


if __name__ == "__main__":
    unittest.main()
