"""The evrepl client: envelope, deadlines, typed calls."""

import time

from . import _schema as pb
from .errors import Code, EvreplError, make_error
from .sp import SPConnection, parse_url
from .types import ServingStatus, _enum, description_from_wire, receipt_from_wire, verification_from_wire

DEFAULT_TIMEOUT_MS = 5000
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
MAX_TIMEOUT_MS = 0xFFFFFFFF  # timeout_ms is a uint32 on the wire

METHOD_PROPAGATE_EVENT = "/evrepl.v1.EventReplicator/PropagateEvent"
METHOD_VERIFY_REPLICAS = "/evrepl.v1.EventReplicator/VerifyReplicas"
METHOD_HEALTH_CHECK = "/evrepl.v1.Health/Check"
METHOD_DESCRIBE = "/evrepl.v1.Server/Describe"

META_REQUEST_ID = "x-request-id"
META_AUTHORIZATION = "authorization"


class Client:
    """A client of one evrepl server (tcp://HOST:PORT or ipc://PATH).

    Connects at once, so that a wrong URL or a server that is down is reported here
    (EvreplError UNAVAILABLE or INVALID_ARGUMENT); later calls reconnect by themselves when
    the connection was lost. Every call has a deadline: its timeout_ms, else the client's
    (default 5000 ms). It bounds connecting, sending and waiting, and is sent to the server
    as the envelope's timeout_ms. A request is never sent twice.

    Thread safety: a Client belongs to one thread at a time (one request in flight), like
    evrepl_client; use one client per thread.
    """

    def __init__(self, url, *, timeout_ms=DEFAULT_TIMEOUT_MS, token=None,
                 max_response_bytes=DEFAULT_MAX_RESPONSE_BYTES, connect=True):
        parse_url(url)  # INVALID_ARGUMENT now rather than at the first call
        self.url = url
        self.timeout_ms = self._check_timeout(timeout_ms) or DEFAULT_TIMEOUT_MS
        self.max_response_bytes = max_response_bytes or DEFAULT_MAX_RESPONSE_BYTES
        self._authorization = f"Bearer {token}" if token is not None else None
        self._conn = None
        #: Metadata of the last response on this client (any outcome), as
        #: evrepl_client_response_metadata: x-request-id, x-evrepl-backend, ...
        self.last_metadata = {}
        if connect:
            self._connection(self._deadline(None))

    # -- plumbing -------------------------------------------------------------------------

    @staticmethod
    def _check_timeout(timeout_ms):
        if timeout_ms is None:
            return None
        if not isinstance(timeout_ms, int) or timeout_ms < 0 or timeout_ms > MAX_TIMEOUT_MS:
            raise EvreplError(Code.INVALID_ARGUMENT, f"timeout_ms must be 0..{MAX_TIMEOUT_MS} ms")
        return timeout_ms

    def _timeout(self, timeout_ms):
        return self._check_timeout(timeout_ms) or self.timeout_ms

    def _deadline(self, timeout_ms):
        return time.monotonic() + self._timeout(timeout_ms) / 1000.0

    def _connection(self, deadline):
        if self._conn is None or self._conn.closed:
            self._conn = None
            self._conn = SPConnection(self.url, deadline, self.max_response_bytes)
        return self._conn

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- raw calls ------------------------------------------------------------------------

    def exchange(self, body, *, timeout_ms=None):
        """Sends body (any bytes, normally a serialized evrepl.rpc.v1.Request) as one request
        and returns the reply body (normally a serialized Response). No envelope handling:
        this is the SP request/reply alone, for tests and tools."""
        deadline = self._deadline(timeout_ms)
        return self._connection(deadline).request(bytes(body), deadline)

    def envelope(self, method, payload=b"", *, metadata=None, timeout_ms=None, request_id=None):
        """The serialized Request this client sends for a call (see call())."""
        req = pb.Request(method=method, payload=bytes(payload), timeout_ms=self._timeout(timeout_ms))
        for k, v in (metadata or {}).items():
            req.metadata[k] = v
        if request_id is not None:
            req.metadata[META_REQUEST_ID] = request_id
        if self._authorization is not None:
            req.metadata[META_AUTHORIZATION] = self._authorization
        return req.SerializeToString()

    def call(self, method, payload=b"", *, metadata=None, timeout_ms=None, request_id=None):
        """Calls method (path form, '/evrepl.v1.Health/Check') with payload (a serialized
        request message) and returns the serialized response message.

        metadata: extra call metadata (a dict; not checked here: the server answers a bad key
        with INVALID_ARGUMENT). request_id: sent as x-request-id. Raises EvreplError with the
        server's status for any code but 0, DeadlineExceeded when no answer came before the
        deadline, UNAVAILABLE when the server cannot be reached or the connection was lost,
        INTERNAL for a response that breaks the contract.
        """
        body = self.envelope(method, payload, metadata=metadata, timeout_ms=timeout_ms, request_id=request_id)
        self.last_metadata = {}
        reply = self.exchange(body, timeout_ms=timeout_ms)
        try:
            resp = pb.Response.FromString(reply)
        except Exception:
            raise EvreplError(Code.INTERNAL,
                              "malformed response from server: not an evrepl.rpc.v1.Response") from None
        self.last_metadata = dict(resp.metadata)
        code = resp.status.code if resp.HasField("status") else 0
        if code != Code.OK:
            # Any code, even one this client does not know, is an error.
            raise make_error(code, resp.status.message or str(code), self.last_metadata)
        return resp.payload

    def _typed(self, method, request, response_cls, opts):
        payload = self.call(method, request.SerializeToString(), **opts)
        try:
            return response_cls.FromString(payload)
        except Exception:
            raise EvreplError(Code.INTERNAL,
                              f"malformed response from server: not a {response_cls.DESCRIPTOR.name}") from None

    # -- typed calls ----------------------------------------------------------------------

    def propagate_event(self, event_id, *, timeout_ms=None, request_id=None, metadata=None):
        """PropagateEvent: returns a Receipt. event_id is canonical UUID text."""
        m = self._typed(METHOD_PROPAGATE_EVENT, pb.PropagateEventRequest(event_id=event_id),
                        pb.ReplicationReceipt, dict(timeout_ms=timeout_ms, request_id=request_id, metadata=metadata))
        return receipt_from_wire(m)

    def verify_replicas(self, tail=0, full_audit=False, *, timeout_ms=None, request_id=None, metadata=None):
        """VerifyReplicas: returns a Verification (check .valid)."""
        m = self._typed(METHOD_VERIFY_REPLICAS, pb.VerifyReplicasRequest(tail=tail, full_audit=full_audit),
                        pb.VerificationResult, dict(timeout_ms=timeout_ms, request_id=request_id, metadata=metadata))
        return verification_from_wire(m)

    def health(self, service="", *, timeout_ms=None, request_id=None, metadata=None):
        """Health/Check: returns a ServingStatus. NOT_FOUND for a service the server lacks."""
        m = self._typed(METHOD_HEALTH_CHECK, pb.HealthCheckRequest(service=service or ""),
                        pb.HealthCheckResponse, dict(timeout_ms=timeout_ms, request_id=request_id, metadata=metadata))
        return _enum(ServingStatus, m.status)

    def describe(self, *, timeout_ms=None, request_id=None, metadata=None):
        """Server/Describe: returns a ServerDescription (receipt_public_key checks receipts)."""
        m = self._typed(METHOD_DESCRIBE, pb.DescribeRequest(), pb.ServerDescription,
                        dict(timeout_ms=timeout_ms, request_id=request_id, metadata=metadata))
        return description_from_wire(m)
