#!/usr/bin/env python3
"""Captures signed receipts and verification results from a live evrepld into
tests/clients/vectors/receipt-vectors.json, for the Python and Node clients' offline checks.

The server signs; this script only records what it sent (the serialized response messages,
exactly as they came off the wire) next to the receipt key's public half. The canonical bytes
in the file are the Python client's reconstruction, and the file is written only when the
server's signature verifies over them, so a client that rebuilds the same bytes from the
message agrees with the server (src/domain/receipt.c), not merely with this script.

The receipt key is derived from a fixed seed so that re-running the script keeps the key; the
timestamps in the captured messages change. usage (from the repository root):

    EVREPL_BIN_DIR=build/bin /usr/bin/python3 tests/clients/make_receipt_vectors.py
"""

import hashlib
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "clients" / "python"))

import nacl.signing  # noqa: E402

import evrepl  # noqa: E402
from evrepl import _schema as pb  # noqa: E402

SEED = hashlib.sha256(b"evrepl client test vectors: receipt key").digest()
EVENT_ID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"


def start(bin_dir, key_path, sock, replicas):
    url = "ipc://" + sock
    args = [str(bin_dir / "evrepld"), "--listen", url, "--receipt-key", key_path]
    if replicas:
        args += ["--stub-replicas", ",".join(replicas)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(500):
        try:
            return proc, evrepl.Client(url, timeout_ms=2000)
        except evrepl.EvreplError:
            time.sleep(0.01)
    proc.kill()
    raise SystemExit("evrepld did not start")


def main():
    bin_dir = pathlib.Path(os.environ.get("EVREPL_BIN_DIR", ROOT / "build" / "bin"))
    sk = nacl.signing.SigningKey(SEED)
    pk = bytes(sk.verify_key)
    tmp = tempfile.mkdtemp(prefix="evrepl-vectors-")
    key_path = os.path.join(tmp, "receipt.key")
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, SEED + pk)  # libsodium secret key layout: seed || public key
    os.close(fd)

    receipts, verifications = [], []
    for name, replicas in [("three-replicas", ["us-east", "eu-west", "ap-south"]), ("no-replicas", [])]:
        proc, c = start(bin_dir, key_path, os.path.join(tmp, f"{name}.sock"), replicas)
        try:
            d = c.describe()
            assert d.receipt_public_key == pk, "the server did not load the vector key"
            raw = c.call(evrepl.METHOD_PROPAGATE_EVENT, pb.PropagateEventRequest(event_id=EVENT_ID).SerializeToString())
            r = evrepl.types.receipt_from_wire(pb.ReplicationReceipt.FromString(raw))
            evrepl.verify_receipt(r, pk)
            receipts.append({
                "name": name,
                "message_hex": raw.hex(),
                "canonical_hex": evrepl.receipt_canonical_bytes(r).hex(),
                "signature_hex": r.signature.hex(),
            })
            raw = c.call(evrepl.METHOD_VERIFY_REPLICAS, pb.VerifyReplicasRequest(tail=3).SerializeToString())
            v = evrepl.types.verification_from_wire(pb.VerificationResult.FromString(raw))
            evrepl.verify_verification(v, pk)
            verifications.append({
                "name": name,
                "message_hex": raw.hex(),
                "canonical_hex": evrepl.verification_canonical_bytes(v).hex(),
                "signature_hex": v.signature.hex(),
            })
        finally:
            c.close()
            proc.terminate()
            proc.wait(10)

    doc = {
        "format": "evrepl.receipt.v1 and evrepl.verification.v1",
        "source": "docs/receipt-format.md (src/domain/receipt.c); captured from evrepld "
                  "(stub backend) by tests/clients/make_receipt_vectors.py",
        "public_key_hex": pk.hex(),
        "key_id": hashlib.sha256(pk).digest()[:16].hex(),
        "receipts": receipts,
        "verifications": verifications,
    }
    out = ROOT / "tests" / "clients" / "vectors" / "receipt-vectors.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
