"""`--scheduler ADDRESS` mistakes get one line at once, not a wait or a hang: nothing listening, an unknown host, a
service that is not a Dask scheduler (garbage back, or silence)."""

from __future__ import annotations

import socket
import threading

import pytest

pytest.importorskip("distributed", reason="the fleet extra (Dask) is not installed")

from inferscope.fleet import cluster  # noqa: E402
from inferscope.fleet.cluster import FleetError  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Listener:
    """A TCP service on localhost that accepts connections and answers each with `reply` (or nothing)."""

    def __init__(self, reply: bytes):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.reply, self.conns = reply, []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            if self.reply:
                conn.sendall(self.reply)

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


def _connect(address: str) -> None:
    with cluster.connect(address, 1):
        pass


def test_nothing_listening():
    address = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(FleetError, match=r"cannot reach the Dask scheduler at .*\(Connection refused\)"):
        _connect(address)


def test_unknown_host():
    with pytest.raises(FleetError, match=r"cannot reach the Dask scheduler at .*unknown host 'no-such-host\.invalid'"):
        _connect("tcp://no-such-host.invalid:8786")


def test_service_answering_garbage():
    listener = _Listener(b"\xff" * 64)
    try:
        with pytest.raises(FleetError, match=r"answers, but not as a Dask scheduler .*8787 is its dashboard"):
            _connect(f"tcp://127.0.0.1:{listener.port}")
    finally:
        listener.close()


def test_service_that_never_answers(monkeypatch):
    monkeypatch.setattr(cluster, "WORKER_WAIT_S", 1)
    monkeypatch.setattr(cluster, "PROBE_S", 1)
    listener = _Listener(b"")
    try:
        with pytest.raises(
            FleetError, match=r"accepted the connection but did not answer as a Dask scheduler within 1 s"
        ):
            _connect(f"127.0.0.1:{listener.port}")
    finally:
        listener.close()
