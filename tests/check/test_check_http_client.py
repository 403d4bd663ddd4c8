"""sselab's downstream client: framing (chunked at every split, Content-Length, close-delimited),
decompression, truncation, connection failures, disconnecting, and one arrival per read."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import socket
from collections.abc import AsyncIterator

import pytest

from sselab.check.extract import Extractor
from sselab.check.http_client import Request, Stream, _Chunked, _head_bytes

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"


@contextlib.asynccontextmanager
async def raw_server(script: list[bytes | float]) -> AsyncIterator[tuple[str, list[bytes]]]:
    """A one-shot server that reads the request head, then writes ``script`` (bytes are sent,
    floats are pauses) and closes. Yields (url, what each connection sent)."""
    received: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.readuntil(b"\r\n\r\n"))
        try:
            for step in script:
                if isinstance(step, float):
                    await asyncio.sleep(step)
                else:
                    writer.write(step)
                    await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/x", received
    finally:
        server.close()


async def run(url: str, timeout: float = 5.0, **kw: object) -> Stream:
    stream = await Stream(Request(url, body=b"{}"), Extractor("text"), **kw).start()  # type: ignore[arg-type]
    await stream.finished(timeout)
    return stream


def chunk(data: bytes, ext: bytes = b"") -> bytes:
    return b"%x%s\r\n%s\r\n" % (len(data), ext, data)


def test_chunked_decoder_at_every_split() -> None:
    wire = chunk(b"Hello, ") + chunk("wörld".encode(), b";name=x") + b"0\r\nX-T: 1\r\n\r\n"
    for cut in range(len(wire) + 1):
        dec = _Chunked()
        out = dec.feed(wire[:cut]) + dec.feed(wire[cut:])
        assert out == "Hello, wörld".encode()
        assert dec.state == "done"


async def test_chunked_stream_records_one_arrival_per_read() -> None:
    script = [HEAD + b"Transfer-Encoding: chunked\r\n\r\n", chunk(b"one "), 0.15,
              chunk(b"two "), 0.15, chunk(b"three"), 0.02, b"0\r\n\r\n"]
    async with raw_server(script) as (url, _):
        stream = await run(url)
    t = stream.trace
    assert (t.status, t.end, t.framing, t.text) == (200, "complete", "chunked", "one two three")
    texts = [a.text for a in t.text_arrivals]
    assert "".join(texts) == "one two three" and len(texts) >= 2  # reads, not one lump
    assert t.text_arrivals[-1].at - t.text_arrivals[0].at > 0.1  # 0.3 s of pauses, seen


async def test_content_length_and_close_delimited_bodies() -> None:
    async with raw_server([HEAD + b"Content-Length: 5\r\n\r\nhello"]) as (url, _):
        t = (await run(url)).trace
    assert (t.end, t.framing, t.text, t.header("content-length")) == (
        "complete", "content-length", "hello", "5")
    async with raw_server([HEAD + b"\r\nuntil ", 0.02, b"close"]) as (url, _):
        t = (await run(url)).trace
    assert (t.end, t.framing, t.text) == ("complete", "close", "until close")


async def test_a_chunked_body_cut_short_is_truncated() -> None:
    script = [HEAD + b"Transfer-Encoding: chunked\r\n\r\n", chunk(b"partial"), b"9\r\nabc"]
    async with raw_server(script) as (url, _):
        t = (await run(url)).trace
    assert (t.end, t.text) == ("truncated", "partialabc")


async def test_gzip_bodies_are_decoded() -> None:
    body = gzip.compress("Grüße aus Köln".encode())
    script = [HEAD + b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body), body]
    async with raw_server(script) as (url, received):
        t = (await run(url)).trace
    assert t.text == "Grüße aus Köln"
    assert b"Accept-Encoding: gzip, deflate" in received[0]


@pytest.mark.parametrize("script,words", [
    ([], "without an HTTP response"),
    ([b"SSH-2.0-OpenSSH\r\n"], "not HTTP"),
    ([b"HTTP/1.1 200 OK\r\nContent-Type: te"], "middle of the response headers"),
])
async def test_answers_that_are_not_http(script: list[bytes], words: str) -> None:
    async with raw_server(script) as (url, _):
        t = (await run(url)).trace
    assert t.status is None and t.end == "truncated"
    assert words in (t.failure or "")


async def test_nothing_listening() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = (await run(f"http://127.0.0.1:{port}/api")).trace
    assert t.end == "connect_error"
    assert f"cannot connect to 127.0.0.1:{port}" in (t.failure or "")


async def test_disconnect_and_timeout() -> None:
    script = [HEAD + b"Transfer-Encoding: chunked\r\n\r\n", chunk(b"a"), 5.0]
    async with raw_server(script) as (url, _):
        stream = await Stream(Request(url), Extractor("text")).start()
        assert await stream.wait(lambda t: t.text == "a", 3.0)
        await stream.disconnect()
        assert stream.trace.end == "client_closed" and stream.trace.closed_at is not None
        slow = await Stream(Request(url), Extractor("text")).start()
        assert not await slow.finished(0.3)
        assert slow.trace.end == "timeout"


def test_request_head_lets_user_headers_replace_defaults() -> None:
    req = Request("http://h:1/p?q=1", "POST", b'{"a":1}', [("Accept", "text/event-stream"),
                                                          ("X-Team", "t")])
    head = _head_bytes(req, "h", 1, "/p?q=1").decode()
    assert head.startswith("POST /p?q=1 HTTP/1.1\r\n")
    assert "Accept: text/event-stream" in head and "Accept: */*" not in head
    assert "X-Team: t" in head and "Content-Length: 7" in head
    assert head.endswith('\r\n\r\n{"a":1}')
