"""Records that tell the truth: a write blocked when the reader left, streams the server cut
when it stopped, streams in flight across a reset, half-closed clients, rejected requests."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sselab import Simulator, SimulatorThread
from sselab.server.recorder import OUTCOMES, Recorder

CHAT = "/v1/chat/completions"
ROOT = Path(__file__).resolve().parents[2]


def _request(scenario: str, stream: bool = True) -> bytes:
    payload = json.dumps({"model": "gpt-4o", "stream": stream,
                          "messages": [{"role": "user", "content": "hi"}]}).encode()
    return (f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"X-Sselab-Scenario: {scenario}\r\nContent-Length: {len(payload)}\r\n\r\n"
            .encode() + payload)


def _port(base_url: str) -> int:
    return int(base_url.rsplit(":", 1)[1])


def _read_some(s: socket.socket, at_least: int, limit: float = 10.0) -> bytes:
    s.settimeout(limit)
    got = b""
    while len(got) < at_least:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


def _read_to_eof(s: socket.socket, limit: float = 5.0) -> bytes:
    s.settimeout(limit)
    got = b""
    try:
        while chunk := s.recv(65536):
            got += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return got


def test_a_write_blocked_when_the_reader_leaves_is_recorded(
        sim_thread: SimulatorThread) -> None:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", _port(sim_thread.base_url)))
    s.sendall(_request("firehose"))
    deadline = time.monotonic() + 10
    while (sim_thread.last is None or sim_thread.last.blocked_since is None) \
            and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(1.0)  # not reading: the write now waiting has waited a second
    rec = sim_thread.last
    assert rec.blocked_since is not None and rec.outcome == "in_progress"
    s.close()
    rec = sim_thread.wait_for(timeout=5)
    assert rec.outcome == "client_disconnected" and rec.blocked_since is None
    assert rec.drain_wait > 0.8  # was 0.0: the blocked write was lost with its wait
    assert max(d for _, _, d, _ in rec.writes) > 0.8
    assert sum(n for _, n, _, _ in rec.writes) == rec.bytes_written


def test_streams_cut_by_stopping_the_server_say_so() -> None:
    sim = SimulatorThread().start()
    try:
        s = socket.create_connection(("127.0.0.1", _port(sim.base_url)))
        s.sendall(_request("paced-20tps"))
        _read_some(s, 400)
        assert sim.last.outcome == "in_progress"
    finally:
        sim.stop()
    s.close()
    rec = sim.last
    assert rec.outcome == "server_shutdown" and rec.client_disconnected is None
    assert rec.ended is not None and rec.bytes_written > 0


def test_sigterm_on_serve_records_server_shutdown_not_a_client_leaving() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "sselab", "serve", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().rsplit(" ", 1)[1].strip()
        s = socket.create_connection(("127.0.0.1", _port(base)))
        s.sendall(_request("paced-20tps"))
        _read_some(s, 400)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
        s.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    line = next(x for x in out.splitlines() if x.startswith("req_000001"))
    assert " server_shutdown " in line, line
    assert "Traceback" not in err


async def test_reset_keeps_the_streams_in_flight() -> None:
    async with Simulator() as sim, httpx.AsyncClient(timeout=10) as c:
        await c.post(sim.url(CHAT), json={"model": "default", "stream": False, "messages": []})
        async with c.stream("POST", sim.url(CHAT), json={
                "model": "paced-20tps", "stream": True, "messages": []}) as r:
            live = r.headers["x-sselab-request-id"]
            chunks = r.aiter_raw()  # kept: leaving an `async for` would close the stream
            await chunks.__anext__()
            answer = (await c.post(sim.url("/_sselab/reset"), json={})).json()
            listing = (await c.get(sim.url("/_sselab/requests"))).json()["requests"]
            sim.reset()  # the Python API does the same
            assert [rec.id for rec in sim.requests] == [live]
            await chunks.aclose()
        rec = await sim.wait_for(lambda r: r.id == live and r.done)
    assert answer == {"reset": True, "kept_in_flight": 1}
    assert [x["id"] for x in listing] == [live] and listing[0]["outcome"] == "in_progress"
    assert rec.outcome == "client_disconnected" and sim.requests == [rec]


@pytest.mark.parametrize("stream", [True, False])
def test_a_half_closed_client_is_recorded_cleanly(sim_thread: SimulatorThread, stream: bool,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    port = _port(sim_thread.base_url)
    for _ in range(5):  # the shutdown races the handler: try it a few times
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(_request("default", stream))
        s.shutdown(socket.SHUT_WR)  # aiohttp takes a half-close for a client that left
        got = _read_to_eof(s)
        s.close()
        rec = sim_thread.wait_for(lambda r: r.done and r.id == sim_thread.last.id, timeout=5)
        assert rec.outcome == "client_disconnected"
        assert (rec.status is None) == (got == b""), (rec, got[:60])
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors[0].getMessage()  # "Error handling request" + a traceback


def test_rejected_and_server_shutdown_are_outcomes() -> None:
    assert {"rejected", "server_shutdown"} <= set(OUTCOMES)
    rec = Recorder().new("POST", CHAT)
    rec.status = 503
    rec.finish("rejected")
    assert (rec.outcome, rec.status, rec.done) == ("rejected", 503, True)
    assert rec.to_json()["outcome"] == "rejected"
    with pytest.raises(ValueError, match="unknown outcome 'rejectd'"):
        Recorder().new("POST", CHAT).finish("rejectd")
