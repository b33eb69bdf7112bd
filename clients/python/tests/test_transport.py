"""The SP request/reply wire, checked against fake servers that speak NNG 1.5's bytes."""

import struct
import time
import unittest

from support import NNG_REP0_HEADER, NNG_REQ0_HEADER, FakeServer, free_tcp_port, recv_exact

import evrepl  # noqa: E402
from evrepl import _schema as pb  # noqa: E402


def read_message(conn, kind):
    """One SP message as NNG frames it: tcp = u64 BE length + bytes; ipc = 0x01 + u64 + bytes."""
    if kind == "ipc":
        msg_type = recv_exact(conn, 1)
        assert msg_type == b"\x01", msg_type
    (n,) = struct.unpack(">Q", recv_exact(conn, 8))
    return recv_exact(conn, n)


def write_message(conn, kind, body):
    conn.sendall((b"\x01" if kind == "ipc" else b"") + struct.pack(">Q", len(body)) + body)


def ok_response(payload, **metadata):
    resp = pb.Response(payload=payload)
    resp.status.code = 0
    for k, v in metadata.items():
        resp.metadata[k] = v
    return resp.SerializeToString()


def echo_server(replies_per_conn=None, wrong_id_first=False):
    """A REP peer: header exchange, then for each request answer Health SERVING."""

    def behave(fake, conn):
        got = recv_exact(conn, 8)
        fake.received.append(("header", got))
        conn.sendall(NNG_REP0_HEADER)
        while True:
            try:
                msg = read_message(conn, fake.kind)
            except EOFError:
                return
            fake.received.append(("request", msg))
            req_id = msg[:4]
            if wrong_id_first:
                other = struct.pack(">I", struct.unpack(">I", req_id)[0] ^ 0x1)
                write_message(conn, fake.kind, other + ok_response(b"\x08\x02"))
            write_message(conn, fake.kind, req_id + ok_response(b"\x08\x01", **{"x-evrepl-backend": "fake"}))

    return behave


def handshake_then_silent(fake, conn):
    recv_exact(conn, 8)
    conn.sendall(NNG_REP0_HEADER)
    while not fake.stopping.is_set():
        try:
            data = conn.recv(65536)
        except OSError:
            return
        if not data:
            return
        fake.received.append(("bytes", data))


def silent(fake, conn):
    fake.stopping.wait()


class WireTest(unittest.TestCase):
    def start(self, behave, kind):
        fake = FakeServer(behave, kind)
        self.addCleanup(fake.stop)
        return fake

    def check_request_bytes(self, kind):
        fake = self.start(echo_server(), kind)
        with evrepl.Client(fake.url, timeout_ms=3000) as c:
            status = c.health("", request_id="rid-1")
        self.assertEqual(status, evrepl.ServingStatus.SERVING)
        self.assertEqual(c.last_metadata, {"x-evrepl-backend": "fake"})
        self.assertEqual(fake.received[0], ("header", NNG_REQ0_HEADER))
        kind_, msg = fake.received[1]
        self.assertEqual(kind_, "request")
        (req_id,) = struct.unpack(">I", msg[:4])
        self.assertTrue(req_id & 0x80000000, f"request id {req_id:#x} lacks the high bit")
        req = pb.Request.FromString(msg[4:])
        self.assertEqual(req.method, "/evrepl.v1.Health/Check")
        self.assertEqual(req.timeout_ms, 3000)
        self.assertEqual(dict(req.metadata), {"x-request-id": "rid-1"})
        self.assertEqual(pb.HealthCheckRequest.FromString(req.payload).service, "")

    def test_tcp_request_bytes(self):
        self.check_request_bytes("tcp")

    def test_ipc_request_bytes(self):
        self.check_request_bytes("ipc")

    def test_request_ids_differ_and_keep_the_high_bit(self):
        fake = self.start(echo_server(), "tcp")
        with evrepl.Client(fake.url) as c:
            for _ in range(3):
                c.health()
        ids = [struct.unpack(">I", m[:4])[0] for k, m in fake.received if k == "request"]
        self.assertEqual(len(ids), 3)
        self.assertEqual(len(set(ids)), 3)
        for i in ids:
            self.assertTrue(i & 0x80000000)

    def test_reply_with_another_request_id_is_discarded(self):
        # The fake first answers with a different id (SERVING is 1, the stray reply says 2).
        fake = self.start(echo_server(wrong_id_first=True), "tcp")
        with evrepl.Client(fake.url) as c:
            self.assertEqual(c.health(), evrepl.ServingStatus.SERVING)

    def test_token_is_sent_as_bearer_authorization(self):
        fake = self.start(echo_server(), "tcp")
        with evrepl.Client(fake.url, token="s3cret") as c:
            c.health()
        req = pb.Request.FromString(fake.received[1][1][4:])
        self.assertEqual(req.metadata["authorization"], "Bearer s3cret")


class DeadlineTest(unittest.TestCase):
    SLACK = 1.0  # seconds a loaded machine may add (the client default is 5 s)

    def start(self, behave, kind):
        fake = FakeServer(behave, kind)
        self.addCleanup(fake.stop)
        return fake

    def check_never_answers(self, kind):
        fake = self.start(handshake_then_silent, kind)
        c = evrepl.Client(fake.url, timeout_ms=5000)
        self.addCleanup(c.close)
        t0 = time.monotonic()
        with self.assertRaises(evrepl.DeadlineExceeded) as cm:
            c.health(timeout_ms=300)
        took = time.monotonic() - t0
        self.assertEqual(cm.exception.code, evrepl.Code.DEADLINE_EXCEEDED)
        self.assertIsInstance(cm.exception, TimeoutError)
        self.assertGreaterEqual(took, 0.29)
        self.assertLess(took, 0.3 + self.SLACK)
        # The request reached the server exactly once: never resent.
        time.sleep(0.1)
        sent = b"".join(d for k, d in fake.received if k == "bytes")
        body_len = struct.unpack(">Q", sent[1:9] if kind == "ipc" else sent[:8])[0]
        self.assertEqual(len(sent), (9 if kind == "ipc" else 8) + body_len)

    def test_tcp_server_that_never_answers(self):
        self.check_never_answers("tcp")

    def test_ipc_server_that_never_answers(self):
        self.check_never_answers("ipc")

    def test_listener_that_never_speaks(self):
        # Accepts the connection but never sends the SP header: nothing was sent, so it is
        # UNAVAILABLE (as libevrepl reports "not connected before the deadline"), on time.
        fake = self.start(silent, "tcp")
        t0 = time.monotonic()
        with self.assertRaises(evrepl.EvreplError) as cm:
            evrepl.Client(fake.url, timeout_ms=300)
        took = time.monotonic() - t0
        self.assertEqual(cm.exception.code, evrepl.Code.UNAVAILABLE)
        self.assertLess(took, 0.3 + self.SLACK)
        self.assertGreaterEqual(took, 0.29)

    def test_connection_lost_after_sending_is_not_resent(self):
        def read_then_close(fake, conn):
            recv_exact(conn, 8)
            conn.sendall(NNG_REP0_HEADER)
            fake.received.append(("request", read_message(conn, "tcp")))
            conn.close()

        fake = self.start(read_then_close, "tcp")
        c = evrepl.Client(fake.url, timeout_ms=2000)
        self.addCleanup(c.close)
        with self.assertRaises(evrepl.EvreplError) as cm:
            c.health()
        self.assertEqual(cm.exception.code, evrepl.Code.UNAVAILABLE)
        time.sleep(0.1)
        self.assertEqual(len([k for k, _ in fake.received if k == "request"]), 1)
        # The next call reconnects (and is lost the same way).
        with self.assertRaises(evrepl.EvreplError):
            c.health()
        self.assertEqual(len(fake.conns), 2)

    def test_peer_that_is_not_rep(self):
        def req_peer(fake, conn):
            recv_exact(conn, 8)
            conn.sendall(NNG_REQ0_HEADER)  # another REQ: NNG rejects this pairing
            fake.stopping.wait()

        fake = self.start(req_peer, "tcp")
        with self.assertRaises(evrepl.EvreplError) as cm:
            evrepl.Client(fake.url, timeout_ms=1000)
        self.assertEqual(cm.exception.code, evrepl.Code.UNAVAILABLE)

    def test_refused_connection(self):
        port = free_tcp_port()
        t0 = time.monotonic()
        with self.assertRaises(evrepl.EvreplError) as cm:
            evrepl.Client(f"tcp://127.0.0.1:{port}", timeout_ms=3000)
        self.assertEqual(cm.exception.code, evrepl.Code.UNAVAILABLE)
        self.assertLess(time.monotonic() - t0, 1.0)

    def test_bad_urls(self):
        for url in ["", "http://x", "tcp://127.0.0.1", "tcp://:80", "ipc://", "127.0.0.1:80"]:
            with self.subTest(url=url), self.assertRaises(evrepl.EvreplError) as cm:
                evrepl.Client(url)
            self.assertEqual(cm.exception.code, evrepl.Code.INVALID_ARGUMENT)


if __name__ == "__main__":
    unittest.main()
