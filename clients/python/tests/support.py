"""Test harness: finds evrepld, starts it on a free port and a private ipc socket, stops it;
and fake servers for the transport tests."""

import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = pathlib.Path(__file__).resolve().parent
PY_CLIENT = HERE.parent
REPO = PY_CLIENT.parent.parent
PROTO_DIR = REPO / "proto"
VECTORS_DIR = REPO / "tests" / "vectors"
CLIENT_VECTORS_DIR = REPO / "tests" / "clients" / "vectors"

sys.path.insert(0, str(PY_CLIENT))

# Bytes from NNG 1.5 (src/sp/transport/tcp/tcp.c tcptran_pipe_start, ipc.c ipc_pipe_start):
# "\0SP\0", protocol id big-endian (req0 = 48 = 0x30, rep0 = 49 = 0x31), two zero bytes.
# Written out here rather than imported so that the tests check the client against the
# spec, not against itself.
NNG_REQ0_HEADER = bytes([0x00, 0x53, 0x50, 0x00, 0x00, 0x30, 0x00, 0x00])
NNG_REP0_HEADER = bytes([0x00, 0x53, 0x50, 0x00, 0x00, 0x31, 0x00, 0x00])


def bin_dir():
    """The directory holding evrepld and evrepl: $EVREPL_BIN_DIR (set by ctest), else build/bin."""
    env = os.environ.get("EVREPL_BIN_DIR")
    candidates = [pathlib.Path(env)] if env else [REPO / "build" / "bin", REPO / "build-clients" / "bin"]
    for d in candidates:
        if (d / "evrepld").exists():
            return d
    return None


def require_bin_dir(test):
    d = bin_dir()
    if d is None:
        msg = "evrepld not found: set EVREPL_BIN_DIR to the build's bin directory"
        if os.environ.get("CI") == "true":
            raise AssertionError(msg)  # under CI a skipped live test is a failure
        raise unittest.SkipTest(msg)
    return d


def free_tcp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sp_ready(kind, addr, timeout=0.5):
    """True when an SP REP socket answers the header exchange at addr."""
    try:
        if kind == "tcp":
            s = socket.create_connection(addr, timeout=timeout)
        else:
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(timeout)
            s.connect(addr)
    except OSError:
        return False
    try:
        s.sendall(NNG_REQ0_HEADER)
        got = b""
        while len(got) < 8:
            chunk = s.recv(8 - len(got))
            if not chunk:
                return False
            got += chunk
        return got == NNG_REP0_HEADER
    except OSError:
        return False
    finally:
        s.close()


class Server:
    """One evrepld process with a tcp:// and an ipc:// listener."""

    def __init__(self, test, args=(), key_file=None):
        self.bin = require_bin_dir(test)
        self.tmp = tempfile.mkdtemp(prefix="evrepl-py-")
        self.ipc_path = os.path.join(self.tmp, "evrepld.sock")
        self.ipc_url = "ipc://" + self.ipc_path
        self.log_path = os.path.join(self.tmp, "evrepld.log")
        last = None
        for _ in range(5):  # a free port can be taken between our probe and the server's bind
            self.port = free_tcp_port()
            self.tcp_url = f"tcp://127.0.0.1:{self.port}"
            cmd = [str(self.bin / "evrepld"), "--listen", self.tcp_url, "--listen", self.ipc_url, *args]
            if key_file:
                cmd += ["--receipt-key", key_file]
            self.log = open(self.log_path, "wb")
            self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
            if self._wait_ready():
                return
            last = self._stop_proc()
        raise RuntimeError(f"evrepld did not start (exit {last}): {self.read_log()}")

    def _wait_ready(self):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if sp_ready("tcp", ("127.0.0.1", self.port)) and sp_ready("ipc", self.ipc_path):
                return True
            time.sleep(0.02)
        return False

    def _stop_proc(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def read_log(self):
        try:
            return pathlib.Path(self.log_path).read_text(errors="replace")
        except OSError:
            return ""

    def stop(self):
        self._stop_proc()
        shutil.rmtree(self.tmp, ignore_errors=True)


def keygen(test, directory):
    """Runs `evrepl keygen` into directory; returns (secret key path, public key hex, printed key id)."""
    bdir = require_bin_dir(test)
    path = os.path.join(directory, "receipt.key")
    out = subprocess.run([str(bdir / "evrepl"), "keygen", "--out", path], check=True,
                         capture_output=True, text=True).stdout
    pub = pathlib.Path(path + ".pub").read_text().strip()
    return path, pub, out.strip().split()[-1]


class FakeServer:
    """A listener (tcp or ipc) that runs `behave(conn)` for each connection in a thread.

    For the transport tests: a server that accepts and never speaks, one that completes the
    SP header exchange and then never answers, one that answers with chosen bytes."""

    def __init__(self, behave, kind="tcp"):
        self.kind = kind
        self.behave = behave
        self.tmp = tempfile.mkdtemp(prefix="evrepl-fake-")
        if kind == "tcp":
            self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.lsock.bind(("127.0.0.1", 0))
            self.url = f"tcp://127.0.0.1:{self.lsock.getsockname()[1]}"
        else:
            path = os.path.join(self.tmp, "fake.sock")
            self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.lsock.bind(path)
            self.url = "ipc://" + path
        self.lsock.listen(8)
        self.conns = []
        self.received = []  # bytes each connection sent, for assertions
        self.errors = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.lsock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn):
        try:
            self.behave(self, conn)
        except Exception as e:  # noqa: BLE001 - reported to the test through self.errors
            if not self.stopping.is_set():
                self.errors.append(e)

    def stop(self):
        self.stopping.set()
        try:
            self.lsock.close()
        except OSError:
            pass
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)


def recv_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise EOFError("peer closed")
        buf += chunk
    return buf
