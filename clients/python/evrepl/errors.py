"""Status codes (gRPC numbering, as the evrepl contract uses them) and the client's exception."""

import enum


class Code(enum.IntEnum):
    """gRPC canonical status codes. A server may send any int32: see EvreplError.code."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


def code_name(code):
    """'NOT_FOUND' for 5; 'UNKNOWN_CODE' for a number outside 0..16 (as evrepl_code_name)."""
    try:
        return Code(code).name
    except ValueError:
        return "UNKNOWN_CODE"


class EvreplError(Exception):
    """A call that did not succeed: the server's status, or one the client made up.

    code is a Code when the number is known, else the plain int the server sent (any code but
    0 is an error). message is one human-readable sentence. metadata holds the response
    metadata when a response arrived (x-request-id, x-evrepl-backend, ...), else {}.
    """

    def __init__(self, code, message, metadata=None):
        try:
            code = Code(code)
        except ValueError:
            code = int(code)
        self.code = code
        self.message = message
        self.metadata = dict(metadata or {})
        super().__init__(f"{code_name(code)} ({int(code)}): {message}")

    @property
    def code_name(self):
        return code_name(self.code)


class DeadlineExceeded(EvreplError, TimeoutError):
    """DEADLINE_EXCEEDED: no answer before the call's deadline (also a TimeoutError)."""


def make_error(code, message, metadata=None):
    """The right EvreplError subclass for code."""
    cls = DeadlineExceeded if int(code) == Code.DEADLINE_EXCEEDED else EvreplError
    return cls(code, message, metadata)
