"""Connections are bounded: a header-read timeout (slowloris), an idle timeout, a cap with a
JSON 503, one log line per refused or timed-out connection."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time

import httpx
import pytest

from sselab import Simulator
from sselab.server.connections import ConnectionLimits, default_max_connections

CHAT = "/v1/chat/completions"
BODY = {"model": "gpt-4o", "stream": False, "messages": [{"role": "user", "content": "hi"}]}


async def _read_all(reader: asyncio.StreamReader, limit: float) -> bytes:
    out = b""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            chunk = await asyncio.wait_for(reader.read(65536), deadline - time.monotonic())
        except (asyncio.TimeoutError, ConnectionError):
            break
        if not chunk:
            break
        out += chunk
    return out


async def _slowloris(port: int, every: float, until: float) -> tuple[bool, float, bytes]:
    """Send a header one byte at a time, never finishing it; returns (closed by the server,
    when, what it answered)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = b"GET /_sselab/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 1000
    start = time.monotonic()
    got = b""
    try:
        for byte in head:  # bounded by the header's length and by `until`
            if time.monotonic() > until:
                break
            try:
                writer.write(bytes([byte]))
                await writer.drain()
            except ConnectionError:
                return True, time.monotonic() - start, got
            try:
                chunk = await asyncio.wait_for(reader.read(4096), every)
            except asyncio.TimeoutError:
                continue
            except ConnectionError:
                return True, time.monotonic() - start, got
            got += chunk
            if not chunk or b"408" in got:
                rest = await _read_all(reader, 0.5)
                return True, time.monotonic() - start, got + rest
        return False, time.monotonic() - start, got
    finally:
        writer.close()


async def test_slowloris_clients_are_closed_after_the_header_timeout(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="sselab.server")
    async with Simulator(header_timeout=0.5, idle_timeout=5) as sim:
        until = time.monotonic() + 8
        results = await asyncio.gather(*(_slowloris(sim.port, 0.05, until) for _ in range(50)))
        async with httpx.AsyncClient() as c:  # still serving
            r = await c.get(sim.url("/_sselab/health"))
    assert r.status_code == 200
    closed = [when for done, when, _ in results if done]
    assert len(closed) == 50, f"{50 - len(closed)} slow clients were never closed"
    assert max(closed) < 4.0  # 0.5 s timeout, swept a few times a second, 2 cores shared
    answers = [got for _, _, got in results]
    assert sum(b"408 Request Timeout" in a for a in answers) >= 45
    body = answers[0].split(b"\r\n\r\n", 1)[1]
    assert "header" in json.loads(body)["error"]["message"]
    lines = [r for r in caplog.records if "no complete request header" in r.getMessage()]
    assert len(lines) == 50 and not any(r.exc_info for r in caplog.records)
    assert sim.connections is not None and not sim.connections.open


async def test_a_connection_that_sends_nothing_is_closed_quietly(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="sselab.server")
    async with Simulator(header_timeout=0.3, idle_timeout=5) as sim:
        reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
        start = time.monotonic()
        got = await _read_all(reader, 4.0)
        took = time.monotonic() - start
        writer.close()
    assert got == b"" and took < 3.0
    assert not [r for r in caplog.records if r.name == "sselab.server"]


async def test_idle_keep_alive_connections_are_closed_but_busy_ones_are_not() -> None:
    slow = ("name: slow\ndescription: a stream longer than the idle timeout\n"
            "response: {text: 'a b c d e f g h'}\ntiming: {ttft_ms: 10, token_ms: 150}\n")
    async with Simulator(header_timeout=5, idle_timeout=0.4) as sim:
        sim.add_scenario(slow)
        async with httpx.AsyncClient() as c:  # a stream of ~1.2 s > the 0.4 s idle timeout
            r = await c.post(sim.url(CHAT), json={**BODY, "stream": True, "model": "slow"})
        assert r.status_code == 200 and sim.last is not None
        assert sim.last.outcome == "completed"
        reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
        writer.write(b"GET /_sselab/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        start = time.monotonic()
        got = await _read_all(reader, 4.0)  # the answer, then the close once idle
        took = time.monotonic() - start
        writer.close()
    assert b'{"ok": true}' in got and b"408" not in got
    assert 0.3 < took < 3.0


async def test_connections_over_the_cap_get_a_json_503(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="sselab.server")
    async with Simulator(max_connections=5, header_timeout=5) as sim:
        held = [await asyncio.open_connection("127.0.0.1", sim.port) for _ in range(5)]
        await asyncio.sleep(0.1)
        async with httpx.AsyncClient() as c:
            refused = await c.get(sim.url("/_sselab/health"))
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        error = refused.json()["error"]
        assert "5" in error["message"] and "max_connections" in error["message"]
        for _, w in held:
            w.close()
        await asyncio.sleep(0.2)
        async with httpx.AsyncClient() as c:
            ok = await c.get(sim.url("/_sselab/health"))
        assert ok.status_code == 200
    refusals = [r for r in caplog.records if "refused a connection" in r.getMessage()]
    assert len(refusals) == 1 and refusals[0].exc_info is None


async def test_a_refused_connection_is_closed_even_if_it_sends_nothing() -> None:
    async with Simulator(max_connections=1, header_timeout=5) as sim:
        _, first = await asyncio.open_connection("127.0.0.1", sim.port)
        reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
        start = time.monotonic()
        got = await _read_all(reader, 4.0)
        took = time.monotonic() - start
        writer.close()
        first.close()
    assert got == b"" and took < 3.0


def test_the_default_cap_is_below_the_descriptor_limit() -> None:
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    cap = default_max_connections()
    if soft != resource.RLIM_INFINITY:
        assert 16 <= cap < soft
    assert ConnectionLimits().cap == cap and ConnectionLimits(max_connections=7).cap == 7
    with pytest.raises(ValueError):
        ConnectionLimits(header_timeout=0)


def test_a_low_descriptor_limit_does_not_lock_everyone_out(tmp_path) -> None:
    """``sselab serve`` under ``ulimit -n 256``, 300 idle connections: those over the cap (128)
    are refused with one line each (no traceback, no failing accept), and once the idle ones
    time out the server answers again."""
    import os
    import resource
    import signal
    import subprocess
    import sys

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    err = tmp_path / "err.txt"
    with err.open("w") as err_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sselab", "serve", "--port", "0", "--header-timeout", "4",
             "-q"], stdout=subprocess.PIPE, stderr=err_file, text=True, preexec_fn=limit,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        socks: list[socket.socket] = []
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            port = int(line.rsplit(":", 1)[1])
            for _ in range(300):
                try:
                    socks.append(socket.create_connection(("127.0.0.1", port), timeout=5))
                except OSError:
                    break
            time.sleep(0.5)
            deadline = time.monotonic() + 25
            status = None
            while time.monotonic() < deadline:  # bounded: the idle ones go after ~4 s
                try:
                    status = httpx.get(f"http://127.0.0.1:{port}/_sselab/health",
                                       timeout=2).status_code
                except httpx.HTTPError:
                    status = None
                if status == 200:
                    break
                time.sleep(0.3)
            assert status == 200
        finally:
            for s in socks:
                s.close()
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    text = err.read_text()
    assert "Traceback" not in text
    refused = text.count("refused a connection")  # the cap is 256 - 128
    assert 1 <= refused <= 300 and len(text.splitlines()) <= 320
    assert "out of system resource" not in text  # the cap kept descriptors free


async def test_without_add_reader_asyncio_accepts_and_the_cap_still_holds(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from sselab.server import listener

    def no_reader(self: object) -> None:
        raise NotImplementedError  # as on Windows' proactor event loop

    monkeypatch.setattr(listener.Listener, "start", no_reader)
    async with Simulator(max_connections=2, header_timeout=5) as sim:
        async with httpx.AsyncClient() as c:
            ok = await c.get(sim.url("/_sselab/health"))
        held = [await asyncio.open_connection("127.0.0.1", sim.port) for _ in range(2)]
        await asyncio.sleep(0.1)
        async with httpx.AsyncClient() as c:
            refused = await c.get(sim.url("/_sselab/health"))
        for _, w in held:
            w.close()
    assert ok.status_code == 200 and refused.status_code == 503
