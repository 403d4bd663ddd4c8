"""Each profile's buffering logic and the shared pieces, driven without sockets."""

from __future__ import annotations

import gzip
import importlib
import pkgutil
import zlib

import pytest

import sselab.buffering as buffering
from sselab.buffering._http import BodyReader, Head, HttpFramingError, split_head
from sselab.buffering.measure import Arrival, EventCounter, group_bursts
from sselab.buffering.nginx_model import NginxPipe, minimal_length
from sselab.buffering.profiles import RequestInfo, get_profile, profiles
from sselab.buffering.profiles.gzip_middleware import CompressionMiddleware
from sselab.buffering.profiles.nginx import Nginx
from sselab.buffering.stages import Collect, Deframe, Gzip

EVENT = b"data: " + b"x" * 42 + b"\n\n"  # 50 bytes


def head(*headers: tuple[str, str], status: int = 200, size: int = 150) -> Head:
    return Head("HTTP/1.1", status, "OK", list(headers), size)


SSE = ("Content-Type", "text/event-stream")
CHUNKED = ("Transfer-Encoding", "chunked")


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


# -- framing ---------------------------------------------------------------------------------

def test_split_head_parses_status_headers_and_size() -> None:
    raw = b"HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\nX-A: 1\r\n\r\nbody"
    parsed, rest = split_head(raw)
    assert (parsed.status, parsed.get("content-type"), parsed.get("x-a"), rest) == (
        200, "text/event-stream", "1", b"body")
    assert parsed.size == len(raw) - 4
    assert split_head(raw[:20]) is None


@pytest.mark.parametrize("garbage", [b"SSH-2.0-OpenSSH\r\n\r\n", b"hello world",
                                     b"HTTP/1.1 abc\r\n\r\n"])
def test_split_head_rejects_non_http(garbage: bytes) -> None:
    with pytest.raises(HttpFramingError):
        split_head(garbage)


def test_chunked_reader_survives_every_split_point() -> None:
    body = chunk(b"hello ") + chunk(b"world") + b"0\r\n\r\n"
    for cut in range(len(body) + 1):
        reader = BodyReader("chunked")
        out = reader.feed(body[:cut]) + reader.feed(body[cut:])
        assert out == b"hello world" and reader.done, cut


def test_length_and_close_readers() -> None:
    reader = BodyReader("length", 5)
    assert reader.feed(b"abc") == b"abc" and not reader.done
    assert reader.feed(b"defg") == b"de" and reader.done
    assert BodyReader("close").feed(b"xyz") == b"xyz"


# -- bursts ----------------------------------------------------------------------------------

def test_group_bursts_splits_on_gaps_longer_than_threshold() -> None:
    arrivals = [Arrival(0.00, 10, 10, 0), Arrival(0.01, 10, 20, 1), Arrival(0.10, 5, 25, 2),
                Arrival(0.13, 5, 30, 3)]
    bursts = group_bursts(arrivals, gap=0.04)
    assert [(b.start, b.end, b.wire, b.events) for b in bursts] == [
        (0.00, 0.01, 20, 1), (0.10, 0.13, 10, 3)]


def test_event_counter_handles_split_blank_lines_and_crlf() -> None:
    counter = EventCounter()
    assert counter.feed(b"data: a\n") == 0
    assert counter.feed(b"\ndata: b\r") == 1
    assert counter.feed(b"\n\r\n") == 2


# -- nginx: the buffered pipe ---------------------------------------------------------------

def test_close_delimited_pipe_sends_only_full_buffers_then_the_rest_at_eof() -> None:
    pipe = NginxPipe(BodyReader("close"), first_room=4096 - 150, buffer_size=4096)
    sent = [pipe.feed(EVENT) for _ in range(100)]  # 5000 bytes
    sizes = [len(s) for s in sent if s]
    assert sizes == [4096 - 150]  # one flush: the header buffer's room for body
    assert sent.index(next(s for s in sent if s)) == (4096 - 150) // 50  # at event 78
    assert len(pipe.finish()) == 5000 - (4096 - 150)


def test_close_delimited_pipe_holds_a_short_stream_until_eof() -> None:
    pipe = NginxPipe(BodyReader("close"), first_room=3946, buffer_size=4096)
    assert all(pipe.feed(EVENT) == b"" for _ in range(12))
    assert pipe.finish() == EVENT * 12


def test_chunked_pipe_passes_events_that_arrive_whole() -> None:
    pipe = NginxPipe(BodyReader("chunked"), first_room=3946, buffer_size=4096)
    assert [pipe.feed(chunk(EVENT)) for _ in range(5)] == [EVENT] * 5
    assert pipe.feed(b"0\r\n\r\n") == b"" and pipe.complete


def test_chunked_pipe_holds_the_tail_of_an_event_that_crosses_a_buffer() -> None:
    big = b"data: " + b"y" * 4992 + b"\n\n"  # 5000 bytes: fills a buffer, tail waits
    pipe = NginxPipe(BodyReader("chunked"), first_room=3946, buffer_size=4096)
    first = pipe.feed(chunk(big))
    assert 0 < len(first) < len(big)
    assert pipe.held > 0
    assert minimal_length(pipe.reader) > pipe.held  # needs 2 bytes of the next chunk too


def test_content_length_pipe_sends_the_last_partial_buffer_once_complete() -> None:
    pipe = NginxPipe(BodyReader("length", 150), first_room=3946, buffer_size=4096)
    assert pipe.feed(EVENT) == b""
    assert pipe.feed(EVENT * 2) == EVENT * 3 and pipe.complete


def test_minimal_length_matches_nginx_chunk_parser() -> None:
    reader = BodyReader("chunked")
    assert minimal_length(reader) == 3
    reader.feed(b"a\r\nhel")
    assert minimal_length(reader) == 7 + 4
    reader.feed(b"lo worl")
    assert minimal_length(reader) == 4
    assert minimal_length(BodyReader("close")) is None


# -- nginx: per-response decisions ---------------------------------------------------------

@pytest.mark.parametrize(("value", "buffered"), [
    (None, True), ("no", False), ("No", False), ("NO", False), ("0", True), ("false", True),
    ("off", True), ("yes", True)])
def test_x_accel_buffering_values(value: str | None, buffered: bool) -> None:
    headers = [SSE] + ([("X-Accel-Buffering", value)] if value else [])
    plan = Nginx().plan(RequestInfo(), head(*headers))
    assert isinstance(plan.stage, NginxPipe) is buffered
    assert plan.headers_early is not buffered
    assert all(k.lower() != "x-accel-buffering" for k, _ in plan.headers)


def test_x_accel_buffering_yes_overrides_proxy_buffering_off_and_ignore_wins() -> None:
    yes = head(SSE, ("X-Accel-Buffering", "yes"))
    assert isinstance(Nginx(proxy_buffering=False).plan(RequestInfo(), yes).stage, NginxPipe)
    no = head(SSE, ("X-Accel-Buffering", "no"))
    assert isinstance(Nginx(ignore_x_accel_buffering=True).plan(RequestInfo(), no).stage,
                      NginxPipe)


def test_unbuffered_nginx_reads_at_most_one_buffer_per_write() -> None:
    plan = Nginx(proxy_buffering=False).plan(RequestInfo(), head(SSE))
    assert plan.read_size == 4096 and isinstance(plan.stage, Deframe)


GZ = Nginx(gzip=True, gzip_types=("text/html", "text/event-stream"))
AE = {"accept-encoding": "gzip, deflate, br"}


@pytest.mark.parametrize(("request_info", "response", "gzipped"), [
    (RequestInfo(headers=AE), head(SSE), True),
    (RequestInfo(headers=AE), head(SSE, ("Cache-Control", "no-cache, no-transform")), True),
    (RequestInfo(), head(SSE), False),  # no Accept-Encoding
    (RequestInfo(headers={"accept-encoding": "gzip;q=0"}), head(SSE), False),
    (RequestInfo(version=(1, 0), headers=AE), head(SSE), False),  # gzip_http_version 1.1
    (RequestInfo(headers={**AE, "via": "1.1 cdn"}), head(SSE), False),  # gzip_proxied off
    (RequestInfo(headers=AE), head(SSE, status=500), False),
    (RequestInfo(headers=AE), head(("Content-Type", "application/json")), False),
    (RequestInfo(headers=AE), head(SSE, ("Content-Encoding", "br")), False),
    (RequestInfo(headers=AE), head(SSE, ("Content-Length", "10")), False),  # gzip_min_length
])
def test_nginx_gzip_conditions(request_info: RequestInfo, response: Head, gzipped: bool) -> None:
    plan = GZ.plan(request_info, response)
    assert (("Content-Encoding", "gzip") in plan.headers) is gzipped
    assert isinstance(plan.stage, Gzip) is gzipped


def test_default_nginx_does_not_gzip_event_streams() -> None:
    assert not Nginx(gzip=True).gzips(RequestInfo(headers=AE), head(SSE))


def test_nginx_gzip_buffered_holds_compressed_output_until_a_buffer_fills() -> None:
    plan = GZ.plan(RequestInfo(headers=AE), head(SSE, ("X-Accel-Buffering", "yes")))
    out = [plan.stage.feed(EVENT) for _ in range(12)]
    assert out == [b""] * 12
    body = plan.stage.finish()
    assert gzip.decompress(body) == EVENT * 12


def test_nginx_gzip_unbuffered_sync_flushes_each_read() -> None:
    plan = GZ.plan(RequestInfo(headers=AE), head(SSE, ("X-Accel-Buffering", "no")))
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    for _ in range(3):
        piece = plan.stage.feed(EVENT)
        assert inflate.decompress(piece) == EVENT  # every event decodable on arrival


# -- the other profiles ------------------------------------------------------------------------

def test_gzip_stage_units() -> None:
    stage = Gzip(Deframe(BodyReader("close")), level=1, unit=4096)
    assert stage.feed(b"a" * 100) == b""
    data = bytes(range(256)) * 64
    out = stage.feed(data)
    assert len(out) % 4096 == 0
    assert gzip.decompress(out + stage.finish()) == b"a" * 100 + data


def test_gzip_middleware_emits_only_what_zlib_emits() -> None:
    mw = CompressionMiddleware()
    plan = mw.plan(RequestInfo(headers=AE), head(SSE))
    first = plan.stage.feed(EVENT)
    assert len(first) <= 10  # at most the gzip header
    assert all(plan.stage.feed(EVENT) == b"" for _ in range(50))
    assert gzip.decompress(first + plan.stage.finish()) == EVENT * 51


@pytest.mark.parametrize(("response", "compressed"), [
    (head(SSE), True),
    (head(SSE, ("Cache-Control", "no-cache, no-transform")), False),
    (head(("Content-Type", "image/png")), False),
    (head(("Content-Type", "application/json"), ("Content-Length", "100")), False),
])
def test_gzip_middleware_conditions(response: Head, compressed: bool) -> None:
    assert CompressionMiddleware().compresses(RequestInfo(headers=AE), response) is compressed
    assert not CompressionMiddleware().compresses(RequestInfo(), head(SSE))


def test_starlette_style_exclusion() -> None:
    excluded = CompressionMiddleware(excluded_types=("text/event-stream",))
    assert not excluded.compresses(RequestInfo(headers=AE), head(SSE))


def test_full_buffer_collects_everything_and_sends_a_length() -> None:
    plan = get_profile("full-buffer").behaviour.plan(RequestInfo(), head(SSE, CHUNKED))
    assert plan.content_length and not plan.headers_early
    assert plan.stage.feed(chunk(EVENT)) == b"" and plan.stage.feed(chunk(EVENT)) == b""
    plan.stage.feed(b"0\r\n\r\n")
    assert plan.stage.complete and plan.stage.finish() == EVENT * 2
    stage = Collect(Deframe(BodyReader("close")))
    stage.feed(b"abc")
    assert stage.finish() == b"abc"


def test_passthrough_passes_each_read() -> None:
    plan = get_profile("passthrough").behaviour.plan(RequestInfo(), head(SSE, CHUNKED))
    assert plan.stage.feed(chunk(EVENT)) == EVENT and plan.headers_early


# -- registry and public API ------------------------------------------------------------------

def test_every_profile_module_registers_one_profile_under_its_name() -> None:
    package = importlib.import_module("sselab.buffering.profiles")
    modules = {m.name for m in pkgutil.iter_modules(package.__path__)} - {"base"}
    names = set(profiles())
    assert names == {m.replace("_", "-") for m in modules}
    assert {"nginx", "nginx-gzip", "full-buffer", "gzip-middleware", "passthrough"} <= names
    for p in profiles().values():
        assert p.trigger and p.symptom and p.fix and p.summary


def test_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="nginx-gzip"):
        get_profile("haproxy")


def test_public_api() -> None:
    assert sorted(buffering.__all__) == sorted([
        "BURST_GAP", "Arrival", "Burst", "BufferingProxy", "Profile", "ReportRow",
        "SyncBufferingProxy", "Trace", "abuffering_report", "buffering_report", "fetch_trace",
        "format_report", "get_profile", "group_bursts", "profiles"])
    for name in buffering.__all__:
        assert getattr(buffering, name) is not None


def test_report_burst_gap_adapts_to_fast_upstreams() -> None:
    from sselab.buffering.measure import Trace
    from sselab.buffering.report import burst_gap_for

    def spaced(step: float) -> Trace:
        return Trace(200, arrivals=[Arrival(i * step, 50, 50 * (i + 1), i + 1)
                                    for i in range(10)])

    assert burst_gap_for(spaced(0.100)) == pytest.approx(0.040)
    assert burst_gap_for(spaced(0.025)) == pytest.approx(0.0125)
    assert burst_gap_for(spaced(0.002)) == pytest.approx(0.005)
    assert burst_gap_for(None) == pytest.approx(0.040)
