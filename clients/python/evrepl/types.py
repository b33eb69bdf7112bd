"""Typed results: plain dataclasses converted from the wire messages (contract.md names)."""

import dataclasses
import datetime
import enum
from typing import List, Union

from .errors import Code, EvreplError

HASH_BYTES = 32
SIGNATURE_BYTES = 64
PUBLIC_KEY_BYTES = 32
UUID_STR_LEN = 36
KEY_ID_MAX = 64


class ReplicationStatus(enum.IntEnum):
    REPLICATION_STATUS_UNSPECIFIED = 0
    REPLICATION_STATUS_PENDING = 1
    REPLICATION_STATUS_CONFIRMED = 2
    REPLICATION_STATUS_FAILED = 3
    REPLICATION_STATUS_NOT_CONFIGURED = 4


class AckState(enum.IntEnum):
    ACK_STATE_UNSPECIFIED = 0
    ACK_STATE_CONFIRMED = 1
    ACK_STATE_PENDING = 2
    ACK_STATE_MISMATCH = 3
    ACK_STATE_UNREACHABLE = 4


class ServingStatus(enum.IntEnum):
    UNKNOWN = 0
    SERVING = 1
    NOT_SERVING = 2
    SERVICE_UNKNOWN = 3


def _enum(cls, value):
    """The enum member, or the plain int for a number the enum does not know (proto3 keeps it)."""
    try:
        return cls(value)
    except ValueError:
        return int(value)


def enum_name(value):
    """'REPLICATION_STATUS_CONFIRMED' for a member, 'UNKNOWN_VALUE' for a plain int."""
    return value.name if isinstance(value, enum.Enum) else "UNKNOWN_VALUE"


@dataclasses.dataclass(frozen=True)
class Timestamp:
    """google.protobuf.Timestamp: seconds and nanoseconds since the Unix epoch, UTC."""

    seconds: int = 0
    nanos: int = 0

    def to_datetime(self):
        base = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
        return base + datetime.timedelta(seconds=self.seconds, microseconds=self.nanos // 1000)


@dataclasses.dataclass
class ReplicaAck:
    replica_id: str
    state: Union[AckState, int]
    observed_content_hash: bytes
    detail: str


@dataclasses.dataclass
class Receipt:
    """PropagateEvent's answer (ReplicationReceipt)."""

    event_id: str
    replica_ids: List[str]
    status: Union[ReplicationStatus, int]
    timestamp: Timestamp
    acks: List[ReplicaAck]
    content_hash: bytes
    signature: bytes
    signer_key_id: str


@dataclasses.dataclass
class ReplicaVerification:
    replica_id: str
    reachable: bool
    head_sequence: int
    head_hash: bytes
    head_hash_match: bool
    lag_events: int
    signature_valid: bool
    chain_valid: bool
    schema_version: str
    schema_version_match: bool
    errors: List[str]
    events_checked: int
    diverged_at_sequence: int


@dataclasses.dataclass
class Verification:
    """VerifyReplicas' answer (VerificationResult)."""

    head_hash_match: bool
    signature_valid: bool
    schema_version_match: bool
    errors: List[str]
    replicas: List[ReplicaVerification]
    checked_at: Timestamp
    primary_head_sequence: int
    primary_head_hash: bytes
    schema_version: str
    signature: bytes
    signer_key_id: str

    @property
    def valid(self):
        """True when the three booleans are true and there are no errors (contract.md)."""
        return self.head_hash_match and self.signature_valid and self.schema_version_match and not self.errors


@dataclasses.dataclass
class ServerDescription:
    version: str
    backend: str
    methods: List[str]
    replica_ids: List[str]
    schema_version: str
    dev_mode: bool
    receipt_key_id: str
    receipt_public_key: bytes


def _bad(why):
    return EvreplError(Code.INTERNAL, f"malformed response from server: {why}")


def _fixed(value, want, what):
    """A bytes field that must be empty or exactly `want` bytes (as the C client checks)."""
    if len(value) not in (0, want):
        raise _bad(f"{what} has the wrong length ({len(value)} bytes)")
    return bytes(value)


def _ts(msg, field):
    if not msg.HasField(field):
        return Timestamp()
    t = getattr(msg, field)
    return Timestamp(t.seconds, t.nanos)


def receipt_from_wire(m):
    if len(m.event_id) > UUID_STR_LEN or len(m.signer_key_id) > KEY_ID_MAX:
        raise _bad("event_id or signer_key_id too long")
    return Receipt(
        event_id=m.event_id,
        replica_ids=list(m.replica_ids),
        status=_enum(ReplicationStatus, m.status),
        timestamp=_ts(m, "timestamp"),
        acks=[
            ReplicaAck(
                replica_id=a.replica_id,
                state=_enum(AckState, a.state),
                observed_content_hash=_fixed(a.observed_content_hash, HASH_BYTES, "observed_content_hash"),
                detail=a.detail,
            )
            for a in m.acks
        ],
        content_hash=_fixed(m.content_hash, HASH_BYTES, "content_hash"),
        signature=_fixed(m.signature, SIGNATURE_BYTES, "signature"),
        signer_key_id=m.signer_key_id,
    )


def verification_from_wire(m):
    if len(m.signer_key_id) > KEY_ID_MAX:
        raise _bad("signer_key_id too long")
    return Verification(
        head_hash_match=m.head_hash_match,
        signature_valid=m.signature_valid,
        schema_version_match=m.schema_version_match,
        errors=list(m.errors),
        replicas=[
            ReplicaVerification(
                replica_id=r.replica_id,
                reachable=r.reachable,
                head_sequence=r.head_sequence,
                head_hash=_fixed(r.head_hash, HASH_BYTES, "a replica's head_hash"),
                head_hash_match=r.head_hash_match,
                lag_events=r.lag_events,
                signature_valid=r.signature_valid,
                chain_valid=r.chain_valid,
                schema_version=r.schema_version,
                schema_version_match=r.schema_version_match,
                errors=list(r.errors),
                events_checked=r.events_checked,
                diverged_at_sequence=r.diverged_at_sequence,
            )
            for r in m.replicas
        ],
        checked_at=_ts(m, "checked_at"),
        primary_head_sequence=m.primary_head_sequence,
        primary_head_hash=_fixed(m.primary_head_hash, HASH_BYTES, "primary_head_hash"),
        schema_version=m.schema_version,
        signature=_fixed(m.signature, SIGNATURE_BYTES, "signature"),
        signer_key_id=m.signer_key_id,
    )


def description_from_wire(m):
    return ServerDescription(
        version=m.version,
        backend=m.backend,
        methods=list(m.methods),
        replica_ids=list(m.replica_ids),
        schema_version=m.schema_version,
        dev_mode=m.dev_mode,
        receipt_key_id=m.receipt_key_id,
        receipt_public_key=_fixed(m.receipt_public_key, PUBLIC_KEY_BYTES, "receipt_public_key"),
    )
