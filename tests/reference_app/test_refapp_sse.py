"""The app's own SSE parser and frame writer, without sockets."""

from __future__ import annotations

import pytest

from sselab_reference_app.sse import SSEEvent, SSEParser, comment, frame

STREAM = ("data: {\"a\":\"Grüße 日本 🚀\"}\n\n"
          ": a comment\n\n"
          "event: error\ndata: line one\ndata: line two\n\n"
          "data:no-space\n\n"
          "data: [DONE]\n\n").encode()
EXPECTED = [SSEEvent('{"a":"Grüße 日本 🚀"}'), SSEEvent("line one\nline two", "error"),
            SSEEvent("no-space"), SSEEvent("[DONE]")]


def feed_all(chunks: list[bytes]) -> tuple[list[SSEEvent], SSEParser]:
    parser = SSEParser()
    events = [e for c in chunks for e in parser.feed(c)]
    return events, parser


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"], ids=["lf", "crlf", "cr"])
def test_split_at_every_offset(eol: bytes) -> None:
    stream = STREAM.replace(b"\n", eol)
    for cut in range(len(stream) + 1):
        events, parser = feed_all([stream[:cut], stream[cut:]])
        assert events == EXPECTED, f"cut at byte {cut}"
        assert parser.comments == 1


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"], ids=["lf", "crlf", "cr"])
def test_one_byte_at_a_time(eol: bytes) -> None:
    stream = STREAM.replace(b"\n", eol)
    events, _ = feed_all([stream[i:i + 1] for i in range(len(stream))])
    assert events == EXPECTED


def test_crlf_split_between_reads_counts_once() -> None:
    # "data: a" CR | LF "data: b" ...: a second LF would end the event early
    events, _ = feed_all([b"data: a\r", b"\ndata: b\r\n\r\n"])
    assert events == [SSEEvent("a\nb")]


def test_event_is_dispatched_at_its_blank_line_not_later() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: x\n") == []
    assert parser.feed(b"\n") == [SSEEvent("x")]
    assert parser.feed(b"data: y\r\r") == [SSEEvent("y")]  # a bare CR ends lines at once


def test_unterminated_event_and_empty_data() -> None:
    events, _ = feed_all([b"event: ping\n\n", b"data\n\n", b"data: tail-without-blank-line\n"])
    assert events == [SSEEvent("")]  # `event:` alone dispatches nothing; `data` alone is ""


def test_bom_is_dropped_once_and_invalid_utf8_is_replaced() -> None:
    events, _ = feed_all([b"\xef\xbb\xbfdata: a\n\n", b"data: \xff\n\n"])
    assert events == [SSEEvent("a"), SSEEvent("\ufffd")]


def test_frame_and_comment_bytes() -> None:
    assert frame("token", {"text": "Grüße\n🚀"}) == (
        'event: token\ndata: {"text":"Grüße\\n🚀"}\n\n'.encode())
    assert comment() == b": keep-alive\n\n"
    # what the app writes, the app's parser reads back
    assert SSEParser().feed(frame("done", {"finish_reason": "stop"})) == [
        SSEEvent('{"finish_reason":"stop"}', "done")]
