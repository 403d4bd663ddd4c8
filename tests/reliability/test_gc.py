"""A closed connection leaves no cyclic garbage, so deferring full GC passes (as ``sselab serve``
does) cannot grow memory, and the passes that do run have little to free.

asyncio's selector transport keeps a bound method of itself after closing (``_read_ready_cb``):
one cycle per connection (transport, its dict, the method, the socket wrapper, the address
tuples), which only a full pass frees. The connection guard drops it when the connection is
lost.
"""

from __future__ import annotations

import collections
import gc
import json
import socket
import time
from collections.abc import Iterator

import pytest

from sselab import SimulatorThread

N = 60
FAST = ("name: fast\ndescription: no waiting\nresponse: {text: 'a b c'}\n"
        "timing: {ttft_ms: 0, token_ms: 0}\n")


def _body(model: str, stream: bool) -> bytes:
    return json.dumps({"model": model, "stream": stream,
                       "messages": [{"role": "user", "content": "hi"}]}).encode()


def _response(s: socket.socket) -> bytes:
    """One whole response: by Content-Length, else (a stream) until the server closes."""
    got = b""
    while b"\r\n\r\n" not in got:
        chunk = s.recv(65536)
        if not chunk:
            return got
        got += chunk
    head, rest = got.split(b"\r\n\r\n", 1)
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), None)
    while length is None or len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    return head + rest


def _request(port: int, payload: bytes, *, read_all: bool = True, keep: int = 1) -> None:
    """``keep`` requests on one connection (blocking sockets: the client makes no asyncio
    objects of its own), then close; ``read_all=False`` leaves after the first bytes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        for i in range(keep):
            last = i == keep - 1
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Content-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s"
                      % (len(payload), b"Connection: close\r\n" if last else b"", payload))
            if read_all:
                _response(s)
            else:
                s.recv(100)
    finally:
        s.close()


@pytest.fixture
def no_auto_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def _garbage_after(sim: SimulatorThread, run: int) -> collections.Counter[str]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # every request finished, every connection forgotten
        guard = sim._sim.connections
        if (sum(1 for r in sim.requests if r.done) >= run and guard is not None
                and not guard.open):
            break
        time.sleep(0.02)
    time.sleep(0.2)
    gc.set_debug(gc.DEBUG_SAVEALL)
    gc.collect()
    found = collections.Counter(f"{type(o).__module__}.{type(o).__qualname__}"
                                for o in gc.garbage)
    gc.set_debug(0)
    gc.garbage.clear()
    return found


@pytest.mark.parametrize("case", ["complete", "stream", "aborted stream", "keep-alive"])
def test_closed_connections_leave_no_cyclic_garbage(no_auto_gc: None, case: str) -> None:
    with SimulatorThread() as sim:
        sim.add_scenario(FAST)
        port = sim._sim.port
        _request(port, _body("fast", False))  # warm up: first-use caches, compiled scripts
        _request(port, _body("fast", True))
        _request(port, _body("paced-20tps", True), read_all=False)
        time.sleep(0.3)
        gc.collect()
        before = sim.call_count
        for _ in range(N):
            if case == "complete":
                _request(port, _body("fast", False))
            elif case == "stream":
                _request(port, _body("fast", True))
            elif case == "aborted stream":
                _request(port, _body("paced-20tps", True), read_all=False)
            else:
                _request(port, _body("fast", False), keep=3)
        runs = N * (3 if case == "keep-alive" else 1)
        found = _garbage_after(sim, before + runs)
    total = sum(found.values())
    transports = sum(n for name, n in found.items() if "Transport" in name)
    assert transports == 0, found.most_common(10)
    assert total < N // 4, f"{total} garbage objects after {N} connections: " \
                           f"{found.most_common(10)}"
