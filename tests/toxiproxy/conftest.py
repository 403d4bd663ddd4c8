"""Fixtures for the Toxiproxy suite: servers (embedded and, when available, real), small TCP
upstreams started per test on 127.0.0.1, raw sockets through a proxy, and a raw HTTP client."""

from __future__ import annotations

import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import httpx
import pytest

from sselab.toxiproxy.testing import (  # noqa: F401  (``toxiproxy`` is a fixture)
    real_server_unavailable_reason,
    toxiproxy,
    toxiproxy_client,
)

Handler = Callable[[socket.socket], None]


@pytest.fixture(params=["embedded", "real"])
def tp(request: pytest.FixtureRequest) -> Iterator:
    """A toxiproxy-python client, once on the embedded server and once on a real Toxiproxy."""
    if request.param == "real":
        reason = real_server_unavailable_reason()
        if reason:
            pytest.skip(reason)
    with toxiproxy_client(request.param) as client:
        yield client


@pytest.fixture
def api(tp) -> Iterator[httpx.Client]:
    """Raw HTTP on the same server, for calls toxiproxy-python lacks."""
    with httpx.Client(base_url=tp.api_url, timeout=10) as client:
        yield client


def echo(conn: socket.socket) -> None:
    while data := conn.recv(65536):
        conn.sendall(data)


def sink_then_ack(total: int) -> Handler:
    """Read ``total`` bytes, then answer b"ok" (for upstream-direction timing)."""

    def handle(conn: socket.socket) -> None:
        got = 0
        while got < total and (data := conn.recv(65536)):
            got += len(data)
        conn.sendall(b"ok")
        conn.recv(1)

    return handle


def send_on_request(payload: bytes, close: bool = True) -> Handler:
    """Wait for any bytes, send ``payload`` in one write, then close (or wait for the client)."""

    def handle(conn: socket.socket) -> None:
        if conn.recv(65536):
            conn.sendall(payload)
        if not close:
            conn.recv(1)

    return handle


class Upstreams:
    """TCP servers on 127.0.0.1, one thread per connection; all closed at teardown."""

    def __init__(self) -> None:
        self._listeners: list[socket.socket] = []
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self, handler: Handler = echo) -> str:
        ls = socket.create_server(("127.0.0.1", 0))
        self._listeners.append(ls)
        threading.Thread(target=self._accept, args=(ls, handler), daemon=True).start()
        return f"127.0.0.1:{ls.getsockname()[1]}"

    def _accept(self, ls: socket.socket, handler: Handler) -> None:
        while True:
            try:
                conn, _ = ls.accept()
            except OSError:
                return
            with self._lock:
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn, handler), daemon=True).start()

    @staticmethod
    def _serve(conn: socket.socket, handler: Handler) -> None:
        conn.settimeout(10)
        try:
            handler(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        for s in self._listeners:
            s.close()
        with self._lock:
            for c in self._conns:
                c.close()


@pytest.fixture
def upstreams() -> Iterator[Upstreams]:
    ups = Upstreams()
    yield ups
    ups.close()


@pytest.fixture
def connect() -> Iterator[Callable[..., socket.socket]]:
    """Open a client socket to a proxy (or ``host:port``); closed at teardown."""
    opened: list[socket.socket] = []

    def _connect(target, timeout: float = 5.0) -> socket.socket:
        addr = target if isinstance(target, str) else target.listen
        host, port = addr.rsplit(":", 1)
        s = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
        opened.append(s)
        return s

    yield _connect
    for s in opened:
        s.close()


def recv_exact(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        data = s.recv(n - len(buf))
        if not data:
            break
        buf += data
    return buf


def recv_all(s: socket.socket) -> bytes:
    """Everything until EOF."""
    chunks = []
    while data := s.recv(65536):
        chunks.append(data)
    return b"".join(chunks)


def rtt(s: socket.socket, msg: bytes = b"ping") -> float:
    t0 = time.perf_counter()
    s.sendall(msg)
    assert recv_exact(s, len(msg)) == msg
    return time.perf_counter() - t0


def median_rtt(s: socket.socket, n: int = 5) -> float:
    return statistics.median(rtt(s) for _ in range(n))


def wait_closed(s: socket.socket, timeout: float = 5.0) -> tuple[str, float]:
    """Block until the peer closes: ("eof" | "reset", seconds waited); data read is discarded."""
    s.settimeout(timeout)
    t0 = time.perf_counter()
    try:
        while s.recv(65536):
            pass
        return "eof", time.perf_counter() - t0
    except ConnectionResetError:
        return "reset", time.perf_counter() - t0


@pytest.fixture
def net() -> SimpleNamespace:
    """The plain helpers above, for test modules (test code is not imported across modules)."""
    return SimpleNamespace(**{f.__name__: f for f in (
        echo, sink_then_ack, send_on_request, recv_exact, recv_all, rtt, median_rtt, wait_closed,
    )})
