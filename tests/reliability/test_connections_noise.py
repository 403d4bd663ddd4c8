"""Malformed requests are one log line each, not a traceback; log lines cannot be forged with
control characters in a path."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from sselab import Simulator
from sselab.server.recorder import escape, log_line

MALFORMED = {
    "header over 8 KiB": b"GET /_sselab/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: "
                         + b"a" * 9000 + b"\r\n\r\n",
    "Content-Length and chunked": b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                                  b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  b"0\r\n\r\n",
    "HTTP/2 preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "HTTP/2 preface after a request": b"GET /_sselab/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                                      b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "bad request line": b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
}


async def _send(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    out = b""
    try:
        for _ in range(100):  # bounded: until the server closes
            chunk = await asyncio.wait_for(reader.read(65536), 3)
            if not chunk:
                break
            out += chunk
    except (asyncio.TimeoutError, ConnectionError):
        pass
    writer.close()
    return out


@pytest.mark.parametrize("name", list(MALFORMED))
async def test_a_malformed_request_is_one_log_line(name: str,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="aiohttp.server")
    async with Simulator() as sim:
        answer = await _send(sim.port, MALFORMED[name])
        async with httpx.AsyncClient() as c:
            ok = await c.get(sim.url("/_sselab/health"))
    assert b" 400 " in answer.split(b"\r\n", 1)[0] or b"200 OK" in answer
    assert ok.status_code == 200
    records = [r for r in caplog.records if r.name == "aiohttp.server"
               and r.levelno >= logging.WARNING]
    assert not [r for r in records if r.exc_info], "a traceback was logged"
    assert len(records) <= 1
    for r in records:
        assert "\n" not in r.getMessage() and r.getMessage().startswith("sselab: ")


def test_escape_keeps_one_line() -> None:
    assert escape("/v1/x\nreq_2 POST /v1/y") == "/v1/x\\nreq_2 POST /v1/y"
    assert escape("a\r\x1b[31mb\\") == "a\\r\\x1b[31mb\\\\"
    assert escape("plain /v1/chat/completions é") == "plain /v1/chat/completions é"


async def test_a_path_with_an_encoded_newline_cannot_forge_a_log_line() -> None:
    lines: list[str] = []
    forged = ("x%0Areq_999999 POST v1 scenario=default status=200 completed 10B 1 writes 1ms"
              "%0D%1B[2K:streamGenerateContent")
    async with Simulator(on_finish=lambda rec: lines.append(log_line(rec))) as sim, \
            httpx.AsyncClient() as c:
        await c.post(sim.url("/v1beta/models/" + forged), json={"contents": []})
        await sim.wait_for(timeout=5)
    assert len(lines) == 1
    assert "\n" not in lines[0] and "\r" not in lines[0] and "\x1b" not in lines[0]
    assert "\\nreq_999999" in lines[0]
