"""evrepl: a Python client of the evrepl replication-verification service.

    import evrepl
    with evrepl.Client("tcp://127.0.0.1:7450") as c:
        receipt = c.propagate_event("0b7e0a4c-2f1d-4c55-9a64-7d3c1e2f9a10")
        evrepl.verify_receipt(receipt, c.describe().receipt_public_key)

Standard library plus python3-protobuf (messages) and python3-nacl (signature checks only).
The wire protocol is in docs/protocol.md.
"""

from .client import (
    DEFAULT_TIMEOUT_MS,
    METHOD_DESCRIBE,
    METHOD_HEALTH_CHECK,
    METHOD_PROPAGATE_EVENT,
    METHOD_VERIFY_REPLICAS,
    Client,
)
from .errors import Code, DeadlineExceeded, EvreplError, code_name
from .events import (
    Event,
    EventVerdict,
    check_chain,
    check_event,
    decode_event_canonical,
    event_canonical_bytes,
    event_content_hash,
    event_field_problem,
)
from .signing import (
    key_id,
    receipt_canonical_bytes,
    verification_canonical_bytes,
    verify_receipt,
    verify_verification,
)
from .types import (
    AckState,
    Receipt,
    ReplicaAck,
    ReplicaVerification,
    ReplicationStatus,
    ServerDescription,
    ServingStatus,
    Timestamp,
    Verification,
)

__all__ = [
    "AckState", "Client", "Code", "DEFAULT_TIMEOUT_MS", "DeadlineExceeded", "Event", "EventVerdict",
    "EvreplError", "check_chain", "check_event", "decode_event_canonical", "event_canonical_bytes",
    "event_content_hash", "event_field_problem",
    "METHOD_DESCRIBE", "METHOD_HEALTH_CHECK", "METHOD_PROPAGATE_EVENT", "METHOD_VERIFY_REPLICAS",
    "Receipt", "ReplicaAck", "ReplicaVerification", "ReplicationStatus", "ServerDescription",
    "ServingStatus", "Timestamp", "Verification", "code_name", "key_id", "receipt_canonical_bytes",
    "verification_canonical_bytes", "verify_receipt", "verify_verification",
]
