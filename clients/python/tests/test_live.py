"""Behaviour against a live evrepld (stub backend) started by the test, over tcp:// and ipc://.

Expected values come from /work/shared/contract.md (the error table, the metadata rules and
"Stub values"), written out here as the contract states them.
"""

import dataclasses
import datetime
import os
import tempfile
import time
import unittest
import uuid

from support import Server, keygen

import evrepl  # noqa: E402
from evrepl import _schema as pb  # noqa: E402

# contract.md, "Status codes used".
OK, INVALID_ARGUMENT, NOT_FOUND, RESOURCE_EXHAUSTED = 0, 3, 5, 8
UNIMPLEMENTED, UNAVAILABLE, UNAUTHENTICATED, PERMISSION_DENIED = 12, 14, 16, 7
FAILED_PRECONDITION = 9

REPLICAS = ["us-east", "eu-west", "ap-south"]
METHODS = [
    "/evrepl.v1.EventReplicator/PropagateEvent",
    "/evrepl.v1.EventReplicator/VerifyReplicas",
    "/evrepl.v1.Health/Check",
    "/evrepl.v1.Server/Describe",
]
EVENT_ID = "0b7e0a4c-2f1d-4c55-9a64-7d3c1e2f9a10"
METADATA_LIMIT = 8 * 1024  # contract: "All keys and values together: at most 8 KiB by default"


def decode_response(body):
    return pb.Response.FromString(body)


class LiveBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="evrepl-py-keys-")
        cls.key_path, cls.pub_hex, cls.printed_key_id = keygen(cls, cls.tmp)
        cls.srv = Server(cls, ["--stub-replicas", ",".join(REPLICAS)], key_file=cls.key_path)
        cls.bare = Server(cls, [])  # no replicas, no receipt key

    @classmethod
    def tearDownClass(cls):
        for s in ("srv", "bare"):
            if hasattr(cls, s):
                getattr(cls, s).stop()

    def client(self, url, **kw):
        c = evrepl.Client(url, **kw)
        self.addCleanup(c.close)
        return c

    def urls(self, srv=None):
        srv = srv or self.srv
        return [srv.tcp_url, srv.ipc_url]

    def assert_code(self, cm, code):
        self.assertEqual(int(cm.exception.code), code, str(cm.exception))


class ErrorTableTest(LiveBase):
    """Every row of contract.md's error table that a client can provoke."""

    def raw(self, url, body):
        return decode_response(self.client(url).exchange(body))

    def test_undecodable_body(self):
        # Field 1 (method, length-delimited) claims 5 bytes and has 2: not a Request.
        for url in self.urls():
            with self.subTest(url=url):
                resp = self.raw(url, b"\x0a\x05ab")
                self.assertEqual(resp.status.code, INVALID_ARGUMENT)
                self.assertTrue(resp.status.message)
                self.assertEqual(resp.payload, b"")
                # Metadata on every response, errors included.
                self.assertEqual(resp.metadata["x-evrepl-backend"], "stub")
                self.assertEqual(resp.metadata["x-evrepl-dev-mode"], "true")

    def test_empty_body_is_an_unknown_method(self):
        for url in self.urls():
            with self.subTest(url=url):
                resp = self.raw(url, b"")
                self.assertEqual(resp.status.code, UNIMPLEMENTED)
                self.assertEqual(resp.metadata["x-evrepl-backend"], "stub")

    def test_unknown_method(self):
        for url in self.urls():
            for method in ["/evrepl.v1.Nope/Nope", "evrepl.v1.Health/Check", "/evrepl.v1.Health/check"]:
                with self.subTest(url=url, method=method), self.assertRaises(evrepl.EvreplError) as cm:
                    self.client(url).call(method, b"", request_id="r-unknown")
                self.assert_code(cm, UNIMPLEMENTED)
                self.assertEqual(cm.exception.metadata.get("x-request-id"), "r-unknown")

    def test_bad_metadata_keys(self):
        bad = ["X-Request-Id", "has space", "", "k" * 65, "ключ", "a/b", "a:b"]
        for url in self.urls():
            for key in bad:
                with self.subTest(url=url, key=key), self.assertRaises(evrepl.EvreplError) as cm:
                    self.client(url).health(metadata={key: "v"})
                self.assert_code(cm, INVALID_ARGUMENT)

    def test_good_metadata_keys(self):
        c = self.client(self.srv.tcp_url)
        for key in ["a", "k" * 64, "x-trace.id_2", "0-9._-"]:
            with self.subTest(key=key):
                self.assertEqual(c.health(metadata={key: "v"}), evrepl.ServingStatus.SERVING)

    def test_metadata_over_the_limit(self):
        for url in self.urls():
            c = self.client(url)
            with self.subTest(url=url):
                # Keys and values together: exactly the limit passes, one byte more does not.
                key = "x-big"
                self.assertEqual(c.health(metadata={key: "a" * (METADATA_LIMIT - len(key))}),
                                 evrepl.ServingStatus.SERVING)
                with self.assertRaises(evrepl.EvreplError) as cm:
                    c.health(metadata={key: "a" * (METADATA_LIMIT - len(key) + 1)})
                self.assert_code(cm, RESOURCE_EXHAUSTED)
                with self.assertRaises(evrepl.EvreplError) as cm:
                    c.health(metadata={"x-big": "a" * 9000})
                self.assert_code(cm, RESOURCE_EXHAUSTED)

    def test_undecodable_payload(self):
        for url in self.urls():
            for method in METHODS:
                with self.subTest(url=url, method=method), self.assertRaises(evrepl.EvreplError) as cm:
                    self.client(url).call(method, b"\x0a\x05ab")
                self.assert_code(cm, INVALID_ARGUMENT)

    def test_event_id_not_a_canonical_uuid(self):
        bad = ["", "not-a-uuid", EVENT_ID[:-1], EVENT_ID + "0", "{" + EVENT_ID + "}",
               EVENT_ID.replace("-", ""), EVENT_ID.replace("-", "_"), "0b7e0a4c-2f1d-4c55-9a64-7d3c1e2f9a1g",
               " " + EVENT_ID[1:]]
        for url in self.urls():
            for event_id in bad:
                with self.subTest(url=url, event_id=event_id), self.assertRaises(evrepl.EvreplError) as cm:
                    self.client(url).propagate_event(event_id)
                self.assert_code(cm, INVALID_ARGUMENT)

    def test_health_of_an_unknown_service(self):
        for url in self.urls():
            with self.subTest(url=url), self.assertRaises(evrepl.EvreplError) as cm:
                self.client(url).health("evrepl.v1.Nope")
            self.assert_code(cm, NOT_FOUND)

    def test_message_over_max_message_bytes_is_dropped(self):
        # contract.md, Limits: the limit applies to the serialized Request plus NNG's 4-byte
        # request id; a larger message gets no answer at all.
        srv = Server(self, ["--max-message-bytes", "1024"])
        self.addCleanup(srv.stop)
        c = self.client(srv.tcp_url, connect=False)
        # Envelope bytes other than the pad (the pad's varint length is 2 bytes at this size).
        base = len(c.envelope(METHODS[2], b"", metadata={"x-pad": "a" * 500}, timeout_ms=2000)) - 500

        def body(total):
            return c.envelope(METHODS[2], b"", metadata={"x-pad": "a" * (total - base)}, timeout_ms=2000)

        fits = body(1024 - 4)
        self.assertEqual(len(fits), 1020)
        self.assertEqual(decode_response(c.exchange(fits, timeout_ms=2000)).status.code, OK)
        too_big = body(1024 - 4 + 1)
        t0 = time.monotonic()
        with self.assertRaises(evrepl.EvreplError) as cm:
            c.exchange(too_big, timeout_ms=1000)
        # No Response comes back: the connection is dropped (UNAVAILABLE, not resent) or the
        # deadline passes, never later than the deadline.
        self.assertIn(int(cm.exception.code), (UNAVAILABLE, 4))
        self.assertLess(time.monotonic() - t0, 1.5)

    def test_stub_failure_mode(self):
        srv = Server(self, ["--stub-replicas", "r1", "--stub-fail", "UNAVAILABLE"])
        self.addCleanup(srv.stop)
        for url in self.urls(srv):
            c = self.client(url)
            with self.subTest(url=url):
                with self.assertRaises(evrepl.EvreplError) as cm:
                    c.propagate_event(EVENT_ID)
                self.assert_code(cm, UNAVAILABLE)
                with self.assertRaises(evrepl.EvreplError) as cm:
                    c.verify_replicas()
                self.assert_code(cm, UNAVAILABLE)


class AuthRowsTest(LiveBase):
    """The UNAUTHENTICATED and PERMISSION_DENIED rows. When the server does not enforce them
    yet, the test is reported skipped with the reason (never passed)."""

    @classmethod
    def setUpClass(cls):  # no shared servers
        pass

    @classmethod
    def tearDownClass(cls):
        pass

    def test_tokens_required_and_none_sent(self):
        tokens = os.path.join(tempfile.mkdtemp(prefix="evrepl-py-tok-"), "tokens")
        open(tokens, "w").close()  # tokens required, none known
        srv = Server(self, ["--tokens", tokens])
        self.addCleanup(srv.stop)
        for token in [None, "not-a-known-token"]:
            c = self.client(srv.tcp_url, token=token)
            try:
                c.propagate_event(EVENT_ID)
            except evrepl.EvreplError as e:
                self.assertEqual(int(e.code), UNAUTHENTICATED, str(e))
                continue
            self.skipTest("SERVER DEVIATION: evrepld --tokens FILE answered a call without a known token "
                          "with OK; contract.md says 16 UNAUTHENTICATED")

    def test_ipc_peer_uid_not_allowed(self):
        other_uid = str(os.getuid() + 12345)
        srv = Server(self, ["--ipc-allow-uid", other_uid])
        self.addCleanup(srv.stop)
        c = self.client(srv.ipc_url)
        try:
            c.propagate_event(EVENT_ID)
        except evrepl.EvreplError as e:
            self.assertEqual(int(e.code), PERMISSION_DENIED, str(e))
            return
        self.skipTest("SERVER DEVIATION: evrepld --ipc-allow-uid (another uid) answered an ipc:// "
                      "call with OK; contract.md says 7 PERMISSION_DENIED")


class MetadataTest(LiveBase):
    def test_request_id_is_echoed_on_success_and_error(self):
        for url in self.urls():
            c = self.client(url)
            with self.subTest(url=url):
                c.health(request_id="req-123")
                self.assertEqual(c.last_metadata["x-request-id"], "req-123")
                with self.assertRaises(evrepl.EvreplError) as cm:
                    c.propagate_event("nope", request_id="req-456")
                self.assertEqual(cm.exception.metadata["x-request-id"], "req-456")
                self.assertEqual(c.last_metadata["x-request-id"], "req-456")
                c.describe()
                self.assertNotIn("x-request-id", c.last_metadata)

    def test_backend_and_dev_mode_on_every_response(self):
        for url in self.urls():
            c = self.client(url)
            with self.subTest(url=url):
                c.describe()
                self.assertEqual(c.last_metadata["x-evrepl-backend"], "stub")
                self.assertEqual(c.last_metadata["x-evrepl-dev-mode"], "true")
                with self.assertRaises(evrepl.EvreplError) as cm:
                    c.health("evrepl.v1.Nope")
                self.assertEqual(cm.exception.metadata["x-evrepl-backend"], "stub")
                self.assertEqual(cm.exception.metadata["x-evrepl-dev-mode"], "true")

    def test_repeated_calls_on_one_connection(self):
        c = self.client(self.srv.ipc_url)
        for i in range(50):
            c.health(request_id=f"n{i}")
            self.assertEqual(c.last_metadata["x-request-id"], f"n{i}")


class StubTest(LiveBase):
    def test_describe(self):
        for url in self.urls():
            with self.subTest(url=url):
                d = self.client(url).describe()
                self.assertEqual(d.backend, "stub")
                self.assertTrue(d.dev_mode)
                self.assertEqual(sorted(d.methods), sorted(METHODS))
                self.assertEqual(d.replica_ids, REPLICAS)
                self.assertTrue(d.version)
                self.assertTrue(d.schema_version)
                self.assertEqual(d.receipt_public_key.hex(), self.pub_hex)
                self.assertEqual(d.receipt_key_id, self.printed_key_id)
        d = self.client(self.bare.tcp_url).describe()
        self.assertEqual(d.replica_ids, [])
        self.assertEqual(d.receipt_key_id, "")
        self.assertEqual(d.receipt_public_key, b"")

    def test_health(self):
        for url in self.urls():
            c = self.client(url)
            with self.subTest(url=url):
                self.assertEqual(c.health(), evrepl.ServingStatus.SERVING)
                self.assertEqual(c.health("evrepl.v1.EventReplicator"), evrepl.ServingStatus.SERVING)

    def test_receipt_with_replicas_is_confirmed(self):
        before = datetime.datetime.now(datetime.timezone.utc)
        for url in self.urls():
            with self.subTest(url=url):
                r = self.client(url).propagate_event(EVENT_ID.upper())  # case-insensitive input
                self.assertEqual(r.event_id, EVENT_ID)  # lowercase output
                self.assertEqual(r.status, evrepl.ReplicationStatus.REPLICATION_STATUS_CONFIRMED)
                self.assertEqual(r.replica_ids, REPLICAS)
                self.assertEqual([a.replica_id for a in r.acks], REPLICAS)  # configuration order
                for a in r.acks:
                    self.assertEqual(a.state, evrepl.AckState.ACK_STATE_CONFIRMED)
                    self.assertEqual(a.observed_content_hash, b"")
                self.assertEqual(r.content_hash, b"")
                issued = r.timestamp.to_datetime()
                self.assertLess(abs((issued - before).total_seconds()), 60)

    def test_receipt_without_replicas_is_not_configured(self):
        for url in self.urls(self.bare):
            with self.subTest(url=url):
                eid = str(uuid.uuid4())
                r = self.client(url).propagate_event(eid)
                self.assertEqual(r.event_id, eid)
                self.assertEqual(r.status, evrepl.ReplicationStatus.REPLICATION_STATUS_NOT_CONFIGURED)
                self.assertEqual(r.acks, [])
                self.assertEqual(r.replica_ids, [])
                self.assertEqual(r.signature, b"")  # no receipt key
                self.assertEqual(r.signer_key_id, "")

    def test_verification_with_replicas(self):
        for url in self.urls():
            with self.subTest(url=url):
                v = self.client(url).verify_replicas(tail=5)
                self.assertTrue(v.head_hash_match and v.signature_valid and v.schema_version_match)
                self.assertEqual(v.errors, [])
                self.assertTrue(v.valid)
                self.assertEqual([r.replica_id for r in v.replicas], REPLICAS)
                for r in v.replicas:
                    self.assertTrue(r.reachable)
                    self.assertEqual((r.head_sequence, r.head_hash, r.lag_events), (0, b"", 0))
                    self.assertTrue(r.head_hash_match and r.signature_valid and r.chain_valid)
                    self.assertTrue(r.schema_version_match)
                    self.assertEqual(r.errors, [])
                v = self.client(url).verify_replicas(full_audit=True)
                self.assertTrue(v.valid)

    def test_verification_without_replicas(self):
        for url in self.urls(self.bare):
            with self.subTest(url=url):
                v = self.client(url).verify_replicas()
                self.assertTrue(v.head_hash_match and v.signature_valid and v.schema_version_match)
                self.assertEqual(v.replicas, [])
                self.assertEqual(len(v.errors), 1)
                self.assertIn("no replicas configured", v.errors[0])
                self.assertFalse(v.valid)


class SignatureTest(LiveBase):
    def test_signed_receipt_verifies_offline(self):
        for url in self.urls():
            with self.subTest(url=url):
                c = self.client(url)
                r = c.propagate_event(EVENT_ID)
                self.assertEqual(len(r.signature), 64)
                self.assertEqual(r.signer_key_id, self.printed_key_id)
                evrepl.verify_receipt(r, c.describe().receipt_public_key)
                evrepl.verify_receipt(r, self.pub_hex)  # the FILE.pub line works too

    def test_altered_receipt_does_not_verify(self):
        r = self.client(self.srv.tcp_url).propagate_event(EVENT_ID)
        ack0 = dataclasses.replace(r.acks[0], state=evrepl.AckState.ACK_STATE_MISMATCH)
        altered = [
            dataclasses.replace(r, event_id=str(uuid.uuid4())),
            dataclasses.replace(r, status=evrepl.ReplicationStatus.REPLICATION_STATUS_FAILED),
            dataclasses.replace(r, replica_ids=r.replica_ids[:-1]),
            dataclasses.replace(r, acks=[ack0] + r.acks[1:]),
            dataclasses.replace(r, timestamp=evrepl.Timestamp(r.timestamp.seconds + 1, r.timestamp.nanos)),
            dataclasses.replace(r, content_hash=bytes(32)),
        ]
        for a in altered:
            with self.subTest(receipt=a), self.assertRaises(evrepl.EvreplError) as cm:
                evrepl.verify_receipt(a, self.pub_hex)
            self.assert_code(cm, INVALID_ARGUMENT)

    def test_receipt_checked_against_another_key(self):
        r = self.client(self.srv.tcp_url).propagate_event(EVENT_ID)
        _, other_pub, _ = keygen(self, tempfile.mkdtemp(prefix="evrepl-py-other-"))
        with self.assertRaises(evrepl.EvreplError) as cm:
            evrepl.verify_receipt(r, other_pub)
        self.assert_code(cm, INVALID_ARGUMENT)
        # Even with the signer id rewritten to the other key's, the signature fails.
        forged = dataclasses.replace(r, signer_key_id=evrepl.key_id(other_pub))
        with self.assertRaises(evrepl.EvreplError) as cm:
            evrepl.verify_receipt(forged, other_pub)
        self.assert_code(cm, INVALID_ARGUMENT)

    def test_unsigned_receipt(self):
        r = self.client(self.bare.tcp_url).propagate_event(EVENT_ID)
        with self.assertRaises(evrepl.EvreplError) as cm:
            evrepl.verify_receipt(r, self.pub_hex)
        self.assert_code(cm, FAILED_PRECONDITION)

    def test_signed_verification_result(self):
        for url in self.urls():
            with self.subTest(url=url):
                v = self.client(url).verify_replicas()
                self.assertEqual(v.signer_key_id, self.printed_key_id)
                evrepl.verify_verification(v, self.pub_hex)
                rep = dataclasses.replace(v.replicas[1], lag_events=3)
                with self.assertRaises(evrepl.EvreplError) as cm:
                    evrepl.verify_verification(dataclasses.replace(v, replicas=[v.replicas[0], rep] + v.replicas[2:]),
                                               self.pub_hex)
                self.assert_code(cm, INVALID_ARGUMENT)
                with self.assertRaises(evrepl.EvreplError) as cm:
                    evrepl.verify_verification(dataclasses.replace(v, errors=["injected"]), self.pub_hex)
                self.assert_code(cm, INVALID_ARGUMENT)
        v = self.client(self.bare.tcp_url).verify_replicas()
        with self.assertRaises(evrepl.EvreplError) as cm:
            evrepl.verify_verification(v, self.pub_hex)
        self.assert_code(cm, FAILED_PRECONDITION)

    def test_key_id_matches_keygen(self):
        self.assertEqual(evrepl.key_id(self.pub_hex), self.printed_key_id)


if __name__ == "__main__":
    unittest.main()
