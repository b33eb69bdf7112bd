"""The Scalability Protocols REQ side (nng req0) over tcp:// and ipc://, with plain sockets.

Wire format (NNG 1.5, src/sp/transport/{tcp,ipc}/*.c and src/sp/protocol/reqrep0/req.c):

- After connecting, each side sends an 8-byte header and reads the peer's:
  00 53 50 00 ("\\0SP\\0"), the sender's protocol id as a big-endian u16 (REQ = 0x0030,
  REP = 0x0031), then 00 00. Our header is 00 53 50 00 00 30 00 00 and we insist on
  00 53 50 00 00 31 00 00 from the server.
- tcp://: every message is a big-endian u64 length, then that many bytes.
  ipc://: every message is one type byte 0x01, a big-endian u64 length, then the bytes.
- A REQ message is a 4-byte big-endian request id with the high bit set, then the body. The
  REP side echoes the id in front of its reply body. The high bit marks the end of the
  "backtrace": without it the REP side would take the first 4 bytes of the body as another hop.

This module knows nothing about protobuf: SPConnection.request() sends one body and returns
the reply body.
"""

import random
import socket
import struct
import time
import urllib.parse

from .errors import Code, EvreplError, make_error

SP_PROTO_REQ = 0x30  # 48: nng req0
SP_PROTO_REP = 0x31  # 49: nng rep0, our peer
REQ_HEADER = b"\x00SP\x00" + struct.pack(">H", SP_PROTO_REQ) + b"\x00\x00"
REP_HEADER = b"\x00SP\x00" + struct.pack(">H", SP_PROTO_REP) + b"\x00\x00"
IPC_MSG_TYPE = 0x01
REQUEST_ID_HIGH_BIT = 0x80000000


def parse_url(url):
    """('tcp', (host, port)) or ('ipc', path). INVALID_ARGUMENT for anything else."""
    if not isinstance(url, str) or not url:
        raise EvreplError(Code.INVALID_ARGUMENT, "no server URL given")
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise EvreplError(Code.INVALID_ARGUMENT, f"bad server URL {url!r}: want tcp://HOST:PORT or ipc://PATH")
    if scheme in ("tcp", "tcp4", "tcp6"):
        u = urllib.parse.urlsplit("tcp://" + rest)
        try:
            port = u.port
        except ValueError:
            port = None
        if not u.hostname or port is None or port == 0 or u.path not in ("", "/"):
            raise EvreplError(Code.INVALID_ARGUMENT, f"bad server URL {url!r}: want tcp://HOST:PORT")
        return "tcp", (u.hostname, port)
    if scheme == "ipc":
        if not rest:
            raise EvreplError(Code.INVALID_ARGUMENT, f"bad server URL {url!r}: want ipc://PATH")
        return "ipc", rest
    if scheme == "tls+tcp":
        raise EvreplError(Code.INVALID_ARGUMENT,
                          f"{url}: tls+tcp:// is not supported by the Python client (use the C client or an ipc:// or tcp:// listener)")
    raise EvreplError(Code.INVALID_ARGUMENT, f"bad server URL {url!r}: want tcp://HOST:PORT or ipc://PATH")


def _remaining(deadline):
    return deadline - time.monotonic()


class SPConnection:
    """One connected REQ pipe. Not thread-safe: one request at a time.

    Connection-phase failures (refused, unreachable, no SP header before the deadline, a peer
    that is not REP) raise UNAVAILABLE: the request was not sent. Once a request is on the
    wire, a missing answer raises DEADLINE_EXCEEDED and a lost connection UNAVAILABLE, and
    the request is never sent again (NNG's REQ would resend it; see docs/protocol.md).
    """

    def __init__(self, url, deadline, max_reply_bytes):
        self.url = url
        self.kind, addr = parse_url(url)
        self.max_reply_bytes = max_reply_bytes
        self.sock = None
        self._next_id = random.randint(0, 0x7FFFFFFF)
        try:
            if self.kind == "tcp":
                timeout = max(_remaining(deadline), 0.001)
                self.sock = socket.create_connection(addr, timeout=timeout)
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            else:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.settimeout(max(_remaining(deadline), 0.001))
                self.sock.connect(addr)
        except socket.timeout:
            self.close()
            raise EvreplError(Code.UNAVAILABLE, f"cannot reach {url}: not connected before the deadline") from None
        except OSError as e:
            self.close()
            raise EvreplError(Code.UNAVAILABLE, f"cannot connect to {url}: {e.strerror or e}") from None
        try:
            self._send_all(REQ_HEADER, deadline)
            peer = self._recv_exact(8, deadline)
        except socket.timeout:
            self.close()
            raise EvreplError(Code.UNAVAILABLE,
                              f"cannot reach {url}: no SP handshake from the server before the deadline") from None
        except (OSError, EOFError) as e:
            self.close()
            raise EvreplError(Code.UNAVAILABLE, f"cannot connect to {url}: handshake failed: {e}") from None
        if peer != REP_HEADER:
            self.close()
            raise EvreplError(Code.UNAVAILABLE,
                              f"cannot connect to {url}: the peer is not an SP REP socket (header {peer.hex()})")

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    @property
    def closed(self):
        return self.sock is None

    def new_request_id(self):
        """The next request id: 31 counting bits, high bit set, starting at a random point."""
        self._next_id = (self._next_id + 1) & 0x7FFFFFFF
        return self._next_id | REQUEST_ID_HIGH_BIT

    def frame(self, message):
        """The bytes that carry one SP message on this transport."""
        if self.kind == "ipc":
            return bytes([IPC_MSG_TYPE]) + struct.pack(">Q", len(message)) + message
        return struct.pack(">Q", len(message)) + message

    def _send_all(self, data, deadline):
        left = _remaining(deadline)
        if left <= 0:
            raise socket.timeout()
        self.sock.settimeout(left)
        self.sock.sendall(data)

    def _recv_exact(self, n, deadline):
        buf = bytearray()
        while len(buf) < n:
            left = _remaining(deadline)
            if left <= 0:
                raise socket.timeout()
            self.sock.settimeout(left)
            chunk = self.sock.recv(min(n - len(buf), 1 << 20))
            if not chunk:
                raise EOFError("the server closed the connection")
            buf += chunk
        return bytes(buf)

    def _recv_message(self, deadline):
        if self.kind == "ipc":
            head = self._recv_exact(9, deadline)
            if head[0] != IPC_MSG_TYPE:
                raise EvreplError(Code.INTERNAL, f"malformed response from {self.url}: ipc message type {head[0]}")
            (length,) = struct.unpack(">Q", head[1:])
        else:
            (length,) = struct.unpack(">Q", self._recv_exact(8, deadline))
        if length > self.max_reply_bytes + 4:
            raise EvreplError(Code.RESOURCE_EXHAUSTED,
                              f"response from {self.url} is {length} bytes, over the client's limit of {self.max_reply_bytes}")
        return self._recv_exact(length, deadline)

    def request(self, body, deadline):
        """Sends body as one request and returns the reply body (request id removed).

        On any failure the connection is closed, so a late reply can never be taken for the
        answer to a later request.
        """
        req_id = self.new_request_id()
        wire = self.frame(struct.pack(">I", req_id) + body)
        try:
            try:
                self._send_all(wire, deadline)
            except socket.timeout:
                raise EvreplError(Code.UNAVAILABLE,
                                  f"cannot send to {self.url}: the request was not sent before the deadline") from None
            except OSError as e:
                raise EvreplError(Code.UNAVAILABLE, f"cannot send to {self.url}: {e.strerror or e}") from None
            while True:
                try:
                    msg = self._recv_message(deadline)
                except socket.timeout:
                    raise make_error(Code.DEADLINE_EXCEEDED, f"no answer from {self.url} before the deadline") from None
                except (OSError, EOFError) as e:
                    raise EvreplError(Code.UNAVAILABLE,
                                      f"no answer from {self.url}: connection lost ({e}); the request was not resent") from None
                if len(msg) < 4:
                    raise EvreplError(Code.INTERNAL, f"malformed response from {self.url}: no request id")
                (got,) = struct.unpack(">I", msg[:4])
                if got == req_id:
                    return msg[4:]
                # A reply to some other request: NNG's REQ discards those too.
        except BaseException:
            self.close()
            raise
