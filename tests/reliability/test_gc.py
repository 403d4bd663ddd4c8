"""A closed connection leaves no cyclic garbage, so deferring full GC passes (as ``sselab serve``
does) cannot grow memory, and the passes that do run have little to free.

Two cycles did: asyncio's selector transport keeps a bound method of itself after closing
(``_read_ready_cb``), one cycle per connection (transport, its dict, the method, the socket
wrapper, the address tuples); and a write into a connection the client had closed raised a
BrokenPipeError whose traceback's frames reach back to the handler holding the request, which
holds the error on its body stream. The connection guard drops both when the connection is
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


@pytest.mark.parametrize("case", ["complete", "stream", "aborted stream", "cut burst",
                                  "keep-alive"])
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
            elif case == "cut burst":  # gone while the server writes: a broken pipe
                _request(port, _body("firehose", True), read_all=False)
            else:
                _request(port, _body("fast", False), keep=3)
        runs = N * (3 if case == "keep-alive" else 1)
        found = _garbage_after(sim, before + runs)
    total = sum(found.values())
    transports = sum(n for name, n in found.items() if "Transport" in name)
    assert transports == 0, found.most_common(10)
    assert total < N // 4, f"{total} garbage objects after {N} connections: " \
                           f"{found.most_common(10)}"


CHURN = r'''
import asyncio, json, random, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
def req(model):
    b = json.dumps({"model": model, "stream": True,
                    "messages": [{"role": "user", "content": "hi"}]}).encode()
    return (b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
            % (len(b), b))
rng = random.Random(1)
async def worker():
    for _ in range(n // 50):
        cut = rng.random() < 0.3
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(req("slow" if cut else "fast"))
        try:
            if cut:
                await asyncio.wait_for(r.read(200), 5)
            else:
                while await asyncio.wait_for(r.read(65536), 5):
                    pass
        except Exception:
            pass
        w.close()
async def main():
    await asyncio.gather(*(worker() for _ in range(50)))
asyncio.run(main())
'''
SLOW = ("name: slow\ndescription: 12 tokens at 20 tokens/s\n"
        "response: {text: 'a b c d e f g h i j k l'}\ntiming: {ttft_ms: 0, token_ms: 50}\n")


def test_concurrent_churn_with_broken_pipes_leaves_no_cyclic_garbage(no_auto_gc: None,
                                                                    tmp_path) -> None:
    """50 concurrent clients (another process), 1,000 connections, 30% cut early: some of the
    server's writes meet a closed socket (BrokenPipeError). Before the fix, 2-6% of the
    connections left a cycle of ~50 objects each (request, handler, frames, transport)."""
    import subprocess
    import sys

    script = tmp_path / "churn.py"
    script.write_text(CHURN)
    with SimulatorThread() as sim:
        sim.add_scenario(FAST)
        sim.add_scenario(SLOW)
        gc.collect()
        subprocess.run([sys.executable, str(script), str(sim._sim.port), "1000"], timeout=90,
                       check=True)
        found = _garbage_after(sim, 1000)
    errors = {name: n for name, n in found.items() if name.endswith("Error")}
    assert not errors, f"{errors}: {found.most_common(10)}"
    assert sum(found.values()) < 50, found.most_common(10)


def test_a_lost_connections_error_loses_its_traceback() -> None:
    from sselab.server.connections import ConnectionGuard

    guard = ConnectionGuard()
    conn = guard.protocol()
    try:
        raise BrokenPipeError(32, "Broken pipe")
    except BrokenPipeError as exc:
        error = exc
    assert error.__traceback__ is not None
    conn.connection_lost(error)
    assert error.__traceback__ is None
