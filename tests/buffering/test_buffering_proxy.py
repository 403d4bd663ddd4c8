"""The emulating proxy on real sockets: what each profile does to one upstream stream.

Upstream events are 150 ms apart; a burst ends after 40 ms of silence (measure.BURST_GAP), so
"streams" = about one burst per event (at least 4 of 6 here, to survive a busy machine) and
"buffered" = one burst for everything.
These run against the test upstream (buffering_upstream.py); they may switch to sselab's
simulator (``POST /sse`` + ``X-Sselab-Scenario``) once it exists.
"""

from __future__ import annotations

import asyncio
import gzip

import pytest
from buffering_upstream import Upstream, event_bytes

from sselab.buffering import BufferingProxy, SyncBufferingProxy, fetch_trace

GZ = {"Accept-Encoding": "gzip"}
SMALL = "/sse?size=50&count=6&interval=0.15"


def expected_body(count: int, size: int = 50) -> bytes:
    return b"".join(event_bytes(i, size) for i in range(count))


async def trace_through(profile: str, upstream: Upstream, path: str, **kw: object):
    async with BufferingProxy(profile, upstream.url) as proxy:
        return await fetch_trace(proxy.url + path, timeout=20, **kw)


async def test_passthrough_streams_each_event(upstream: Upstream) -> None:
    trace = await trace_through("passthrough", upstream, SMALL)
    assert trace.status == 200 and trace.body == expected_body(6)
    assert len(trace.bursts()) >= 4


async def test_nginx_buffers_a_short_stream_until_the_end(upstream: Upstream) -> None:
    trace = await trace_through("nginx", upstream, SMALL)
    assert trace.body == expected_body(6) and trace.complete
    assert len(trace.bursts()) == 1
    assert trace.arrivals[0].t >= 0.6  # not even the head before the stream ends (~0.75 s)
    assert trace.header("server") == "nginx (sselab emulation)"
    assert upstream.requests[-1]["version"].minor == 0  # proxy_http_version 1.0


async def test_nginx_x_accel_buffering_no_streams_and_is_not_forwarded(upstream: Upstream) -> None:
    trace = await trace_through("nginx", upstream, SMALL + "&accel=no")
    assert trace.body == expected_body(6)
    assert len(trace.bursts()) >= 4
    assert trace.header("x-accel-buffering") is None


async def test_nginx_gzip_buffers_unless_x_accel_buffering_no(upstream: Upstream) -> None:
    buffered = await trace_through("nginx-gzip", upstream, SMALL, headers=GZ)
    assert buffered.header("content-encoding") == "gzip"
    assert buffered.body == expected_body(6) and len(buffered.bursts()) == 1
    fixed = await trace_through("nginx-gzip", upstream, SMALL + "&accel=no", headers=GZ)
    assert fixed.body == expected_body(6) and len(fixed.bursts()) >= 4
    plain = await trace_through("nginx-gzip", upstream, SMALL)  # no Accept-Encoding
    assert plain.header("content-encoding") is None


async def test_full_buffer_sends_everything_at_once_with_a_length(upstream: Upstream) -> None:
    trace = await trace_through("full-buffer", upstream, SMALL + "&accel=no")
    assert trace.body == expected_body(6)
    assert trace.header("content-length") == str(len(expected_body(6)))
    assert trace.header("transfer-encoding") is None
    assert len(trace.bursts()) == 1 and trace.arrivals[0].t >= 0.6


async def test_gzip_middleware_holds_events_until_the_end(upstream: Upstream) -> None:
    trace = await trace_through("gzip-middleware", upstream, SMALL, headers=GZ)
    assert trace.header("content-encoding") == "gzip" and trace.body == expected_body(6)
    assert trace.first_event_at() >= 0.6
    fixed = await trace_through("gzip-middleware", upstream,
                                SMALL + "&cc=no-cache,no-transform", headers=GZ)
    assert fixed.header("content-encoding") is None and len(fixed.bursts()) >= 4


async def test_request_method_body_and_headers_reach_the_upstream(upstream: Upstream) -> None:
    async with BufferingProxy("passthrough", upstream.url) as proxy:
        trace = await fetch_trace(proxy.url + "/sse?size=50&count=1", "POST", b'{"a": 1}',
                                  {"X-Sselab-Scenario": "demo", "Content-Type": "application/json"})
    assert trace.status == 200
    seen = upstream.requests[-1]
    assert (seen["method"], seen["body"]) == ("POST", b'{"a": 1}')
    assert seen["headers"]["X-Sselab-Scenario"] == "demo"


async def test_sync_variant_serves_from_a_thread(upstream: Upstream) -> None:
    with SyncBufferingProxy("nginx", upstream.url) as proxy:
        trace = await fetch_trace(proxy.url + SMALL + "&accel=no", timeout=20)
    assert trace.body == expected_body(6) and len(trace.bursts()) >= 4


async def test_concurrent_clients_get_their_own_buffers(upstream: Upstream) -> None:
    async with BufferingProxy("nginx", upstream.url) as proxy:
        traces = await asyncio.gather(*(fetch_trace(proxy.url + SMALL, timeout=20)
                                        for _ in range(3)))
    assert all(t.body == expected_body(6) for t in traces)


@pytest.mark.parametrize("profile", ["nginx-gzip", "gzip-middleware"])
async def test_compressed_bodies_are_valid_gzip(upstream: Upstream, profile: str) -> None:
    async with BufferingProxy(profile, upstream.url) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"GET /sse?size=50&count=3&interval=0.01 HTTP/1.0\r\n"
                     b"Accept-Encoding: gzip\r\n\r\n")
        raw = await asyncio.wait_for(reader.read(), 10)
        writer.close()
    body = raw.split(b"\r\n\r\n", 1)[1]  # HTTP/1.0 client: no chunking, ends at close
    if profile == "nginx-gzip":
        assert b"Content-Encoding: gzip" not in raw  # gzip_http_version 1.1
        assert body == expected_body(3)
    else:
        assert gzip.decompress(body) == expected_body(3)
