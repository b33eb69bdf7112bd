"""The evrepl wire messages, built at import time from a small table.

Why not generated *_pb2.py files: protoc is not available on our machines (only protoc-c),
and committed generated code ties the package to the protobuf runtime version that generated
it ("gencode/runtime" checks in protobuf >= 4). Instead this module describes proto/ as a
table, turns the table into FileDescriptorProtos, adds them to a private DescriptorPool and
asks the runtime for message classes. That works with every python3-protobuf from 3.20 on
(Debian 12 ships 4.21), keeps the package import-only, and never touches the default pool,
so it cannot clash with another copy of the same .proto files in the process.

tests/test_schema_sync.py parses the .proto files in proto/ and fails when a message, field
number, type, label, enum value or method here differs from them.
"""

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, timestamp_pb2

_FDP = descriptor_pb2.FieldDescriptorProto

# Scalar type names as written in .proto files -> FieldDescriptorProto types.
SCALARS = {
    "double": _FDP.TYPE_DOUBLE,
    "float": _FDP.TYPE_FLOAT,
    "int64": _FDP.TYPE_INT64,
    "uint64": _FDP.TYPE_UINT64,
    "int32": _FDP.TYPE_INT32,
    "fixed64": _FDP.TYPE_FIXED64,
    "fixed32": _FDP.TYPE_FIXED32,
    "bool": _FDP.TYPE_BOOL,
    "string": _FDP.TYPE_STRING,
    "bytes": _FDP.TYPE_BYTES,
    "uint32": _FDP.TYPE_UINT32,
    "sfixed32": _FDP.TYPE_SFIXED32,
    "sfixed64": _FDP.TYPE_SFIXED64,
    "sint32": _FDP.TYPE_SINT32,
    "sint64": _FDP.TYPE_SINT64,
}

# One entry per .proto file under proto/. A field is (type, name, number) or
# ("repeated TYPE", name, number) or ("map<K,V>", name, number); a type that is not a scalar
# is a message or enum name, resolved in the file's package, or fully qualified.
# Nested enums are listed under the message as "enums".
FILES = [
    {
        "name": "evrepl/rpc/v1/envelope.proto",
        "package": "evrepl.rpc.v1",
        "deps": [],
        "enums": {},
        "messages": {
            "Status": {"fields": [("int32", "code", 1), ("string", "message", 2)]},
            "Request": {
                "fields": [
                    ("string", "method", 1),
                    ("bytes", "payload", 2),
                    ("uint32", "timeout_ms", 3),
                    ("map<string,string>", "metadata", 4),
                ]
            },
            "Response": {
                "fields": [
                    ("Status", "status", 1),
                    ("bytes", "payload", 2),
                    ("map<string,string>", "metadata", 3),
                ]
            },
        },
        "services": {},
    },
    {
        "name": "evrepl/v1/replicator.proto",
        "package": "evrepl.v1",
        "deps": ["google/protobuf/timestamp.proto"],
        "enums": {
            "ReplicationStatus": [
                ("REPLICATION_STATUS_UNSPECIFIED", 0),
                ("REPLICATION_STATUS_PENDING", 1),
                ("REPLICATION_STATUS_CONFIRMED", 2),
                ("REPLICATION_STATUS_FAILED", 3),
                ("REPLICATION_STATUS_NOT_CONFIGURED", 4),
            ],
            "AckState": [
                ("ACK_STATE_UNSPECIFIED", 0),
                ("ACK_STATE_CONFIRMED", 1),
                ("ACK_STATE_PENDING", 2),
                ("ACK_STATE_MISMATCH", 3),
                ("ACK_STATE_UNREACHABLE", 4),
            ],
        },
        "messages": {
            "PropagateEventRequest": {"fields": [("string", "event_id", 1)]},
            "ReplicaAck": {
                "fields": [
                    ("string", "replica_id", 1),
                    ("AckState", "state", 2),
                    ("bytes", "observed_content_hash", 3),
                    ("string", "detail", 4),
                ]
            },
            "ReplicationReceipt": {
                "fields": [
                    ("string", "event_id", 1),
                    ("repeated string", "replica_ids", 2),
                    ("ReplicationStatus", "status", 3),
                    ("google.protobuf.Timestamp", "timestamp", 4),
                    ("repeated ReplicaAck", "acks", 5),
                    ("bytes", "content_hash", 6),
                    ("bytes", "signature", 7),
                    ("string", "signer_key_id", 8),
                ]
            },
            "VerifyReplicasRequest": {
                "fields": [("uint32", "tail", 1), ("bool", "full_audit", 2)]
            },
            "ReplicaVerification": {
                "fields": [
                    ("string", "replica_id", 1),
                    ("bool", "reachable", 2),
                    ("uint64", "head_sequence", 3),
                    ("bytes", "head_hash", 4),
                    ("bool", "head_hash_match", 5),
                    ("uint64", "lag_events", 6),
                    ("bool", "signature_valid", 7),
                    ("bool", "chain_valid", 8),
                    ("string", "schema_version", 9),
                    ("bool", "schema_version_match", 10),
                    ("repeated string", "errors", 11),
                    ("uint64", "events_checked", 12),
                    ("uint64", "diverged_at_sequence", 13),
                ]
            },
            "VerificationResult": {
                "fields": [
                    ("bool", "head_hash_match", 1),
                    ("bool", "signature_valid", 2),
                    ("bool", "schema_version_match", 3),
                    ("repeated string", "errors", 4),
                    ("repeated ReplicaVerification", "replicas", 5),
                    ("google.protobuf.Timestamp", "checked_at", 6),
                    ("uint64", "primary_head_sequence", 7),
                    ("bytes", "primary_head_hash", 8),
                    ("string", "schema_version", 9),
                    ("bytes", "signature", 10),
                    ("string", "signer_key_id", 11),
                ]
            },
        },
        "services": {
            "EventReplicator": [
                ("PropagateEvent", "PropagateEventRequest", "ReplicationReceipt"),
                ("VerifyReplicas", "VerifyReplicasRequest", "VerificationResult"),
            ]
        },
    },
    {
        "name": "evrepl/v1/health.proto",
        "package": "evrepl.v1",
        "deps": [],
        "enums": {},
        "messages": {
            "HealthCheckRequest": {"fields": [("string", "service", 1)]},
            "HealthCheckResponse": {
                "enums": {
                    "ServingStatus": [
                        ("UNKNOWN", 0),
                        ("SERVING", 1),
                        ("NOT_SERVING", 2),
                        ("SERVICE_UNKNOWN", 3),
                    ]
                },
                "fields": [("ServingStatus", "status", 1)],
            },
        },
        "services": {"Health": [("Check", "HealthCheckRequest", "HealthCheckResponse")]},
    },
    {
        "name": "evrepl/v1/server.proto",
        "package": "evrepl.v1",
        "deps": [],
        "enums": {},
        "messages": {
            "DescribeRequest": {"fields": []},
            "ServerDescription": {
                "fields": [
                    ("string", "version", 1),
                    ("string", "backend", 2),
                    ("repeated string", "methods", 3),
                    ("repeated string", "replica_ids", 4),
                    ("string", "schema_version", 5),
                    ("bool", "dev_mode", 6),
                    ("string", "receipt_key_id", 7),
                    ("bytes", "receipt_public_key", 8),
                ]
            },
        },
        "services": {"Server": [("Describe", "DescribeRequest", "ServerDescription")]},
    },
]


def _camel(name):
    return "".join(p[:1].upper() + p[1:] for p in name.split("_"))


def _enum_names(f):
    """Full names of every enum declared in file table f (top level and nested)."""
    out = {f"{f['package']}.{e}" for e in f["enums"]}
    for m, spec in f["messages"].items():
        out |= {f"{f['package']}.{m}.{e}" for e in spec.get("enums", {})}
    return out


def _resolve(type_name, package, scope, known_enums):
    """Returns (FieldDescriptorProto type, '.full.Name') for a non-scalar type name."""
    if "." in type_name:
        full = type_name
    elif f"{package}.{scope}.{type_name}" in known_enums:
        full = f"{package}.{scope}.{type_name}"
    else:
        full = f"{package}.{type_name}"
    kind = _FDP.TYPE_ENUM if full in known_enums else _FDP.TYPE_MESSAGE
    return kind, "." + full


def _add_field(msg, f, spec, scope, known_enums):
    type_name, name, number = spec
    fd = msg.field.add(name=name, number=number, json_name=_camel(name)[:1].lower() + _camel(name)[1:])
    if type_name.startswith("map<"):
        key_t, val_t = (t.strip() for t in type_name[4:-1].split(","))
        entry = msg.nested_type.add(name=_camel(name) + "Entry")
        entry.options.map_entry = True
        for i, (t, n) in enumerate(((key_t, "key"), (val_t, "value")), start=1):
            _add_field(entry, f, (t, n, i), f"{scope}.{entry.name}", known_enums)
        fd.label = _FDP.LABEL_REPEATED
        fd.type = _FDP.TYPE_MESSAGE
        fd.type_name = f".{f['package']}.{scope}.{entry.name}"
        return
    fd.label = _FDP.LABEL_OPTIONAL
    if type_name.startswith("repeated "):
        fd.label = _FDP.LABEL_REPEATED
        type_name = type_name[len("repeated "):]
    if type_name in SCALARS:
        fd.type = SCALARS[type_name]
    else:
        fd.type, fd.type_name = _resolve(type_name, f["package"], scope, known_enums)


def file_descriptor_protos():
    """The FileDescriptorProtos of proto/, in dependency order (timestamp.proto not included)."""
    known_enums = set()
    for f in FILES:
        known_enums |= _enum_names(f)
    out = []
    for f in FILES:
        fdp = descriptor_pb2.FileDescriptorProto(name=f["name"], package=f["package"], syntax="proto3")
        fdp.dependency.extend(f["deps"])
        for ename, values in f["enums"].items():
            e = fdp.enum_type.add(name=ename)
            for vname, num in values:
                e.value.add(name=vname, number=num)
        for mname, spec in f["messages"].items():
            m = fdp.message_type.add(name=mname)
            for ename, values in spec.get("enums", {}).items():
                e = m.enum_type.add(name=ename)
                for vname, num in values:
                    e.value.add(name=vname, number=num)
            for field in spec["fields"]:
                _add_field(m, f, field, mname, known_enums)
        for sname, methods in f["services"].items():
            s = fdp.service.add(name=sname)
            for meth, req, resp in methods:
                s.method.add(name=meth, input_type=f".{f['package']}.{req}",
                             output_type=f".{f['package']}.{resp}")
        out.append(fdp)
    return out


def _build_pool():
    pool = descriptor_pool.DescriptorPool()
    ts = descriptor_pb2.FileDescriptorProto()
    timestamp_pb2.DESCRIPTOR.CopyToProto(ts)
    pool.AddSerializedFile(ts.SerializeToString())
    for fdp in file_descriptor_protos():
        pool.AddSerializedFile(fdp.SerializeToString())
    return pool


POOL = _build_pool()


def message_class(full_name):
    """The generated message class for a full name such as 'evrepl.rpc.v1.Request'."""
    desc = POOL.FindMessageTypeByName(full_name)
    get = getattr(message_factory, "GetMessageClass", None)  # protobuf >= 4.22
    if get is not None:
        return get(desc)
    return message_factory.MessageFactory(POOL).GetPrototype(desc)


Status = message_class("evrepl.rpc.v1.Status")
Request = message_class("evrepl.rpc.v1.Request")
Response = message_class("evrepl.rpc.v1.Response")
PropagateEventRequest = message_class("evrepl.v1.PropagateEventRequest")
ReplicationReceipt = message_class("evrepl.v1.ReplicationReceipt")
ReplicaAck = message_class("evrepl.v1.ReplicaAck")
VerifyReplicasRequest = message_class("evrepl.v1.VerifyReplicasRequest")
VerificationResult = message_class("evrepl.v1.VerificationResult")
ReplicaVerification = message_class("evrepl.v1.ReplicaVerification")
HealthCheckRequest = message_class("evrepl.v1.HealthCheckRequest")
HealthCheckResponse = message_class("evrepl.v1.HealthCheckResponse")
DescribeRequest = message_class("evrepl.v1.DescribeRequest")
ServerDescription = message_class("evrepl.v1.ServerDescription")
Timestamp = message_class("google.protobuf.Timestamp")
