"""Byte splitting: every format's stream, cut anywhere, parses to the same events; the SSE
decoder and frame writer are exact."""

from __future__ import annotations

import random

import pytest

from sselab import compile_scenario, load_all
from sselab.encoders import Frame, RequestInfo, formats
from sselab.encoders.sse_frame import sse
from sselab.shaping import shape
from sselab.shaping.line_endings import LineEndingsFault
from sselab.shaping.split_bytes import SplitFault
from sselab.sse_parse import SSEEvent, parse

SSE_FORMATS = ["openai_chat", "openai_responses", "anthropic", "gemini", "vercel_ui_stream",
               "plain_sse"]


SCENARIOS = load_all()


def frames(fmt: str, scenario: str, *faults) -> list[bytes]:
    script = compile_scenario(SCENARIOS[scenario])
    body = {"model": scenario, "stream": True, "messages": []}
    req = RequestInfo(request_id="req_1", format=fmt, body=body, model=scenario,
                      path_params={"model": scenario, "model_action":
                                   f"{scenario}:streamGenerateContent"},
                      query={"alt": "sse"})
    items = shape(formats()[fmt].stream(script, req), faults)
    return [i.data for i in items if isinstance(i, Frame)]


@pytest.mark.parametrize("fmt", SSE_FORMATS)
@pytest.mark.parametrize("seed", [1, 2, 3, 42, 1234])
def test_random_splits_reassemble_the_unsplit_events(fmt: str, seed: int) -> None:
    whole = list(parse([b"".join(frames(fmt, "unicode"))]))
    pieces = frames(fmt, "unicode", SplitFault(mode="random", min_size=1, max_size=9,
                                               seed=seed))
    assert b"".join(pieces) == b"".join(frames(fmt, "unicode"))
    assert len(pieces) > len(frames(fmt, "unicode"))
    assert list(parse(pieces)) == whole
    assert any("日" in e.data or "\\u65e5" in e.data for e in whole)


@pytest.mark.parametrize("fmt", SSE_FORMATS)
def test_one_byte_writes_cut_inside_every_utf8_character(fmt: str) -> None:
    pieces = frames(fmt, "unicode", SplitFault(mode="bytes"))
    assert all(len(p) == 1 for p in pieces)
    assert list(parse(pieces)) == list(parse([b"".join(pieces)]))


@pytest.mark.parametrize("style", ["crlf", "cr"])
def test_line_endings_change_framing_not_events(style: str) -> None:
    plain = list(parse(frames("openai_chat", "unicode")))
    other = frames("openai_chat", "unicode", LineEndingsFault(style=style),
                   SplitFault(mode="random", seed=5, max_size=4))
    assert b"\n" not in b"".join(other) if style == "cr" else True
    assert list(parse(other)) == plain


@pytest.mark.parametrize("kwargs, expected", [
    ({"data": "hello"}, b"data: hello\n\n"),
    ({"data": "a\nb"}, b"data: a\ndata: b\n\n"),
    ({"data": "x", "event": "delta"}, b"event: delta\ndata: x\n\n"),
    ({"comment": "keep-alive"}, b": keep-alive\n\n"),
    ({"data": "", "id": "7", "retry": 100}, b"id: 7\nretry: 100\ndata: \n\n"),
    ({"data": "é"}, "data: é\n\n".encode()),
])
def test_sse_frame_writer_exact_bytes(kwargs: dict, expected: bytes) -> None:
    assert sse(**kwargs) == expected


@pytest.mark.parametrize("stream, events", [
    # WHATWG examples and edge cases
    (b"data: YHOO\ndata: +2\ndata: 10\n\n", [SSEEvent("YHOO\n+2\n10")]),
    (b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\n",
     [SSEEvent("first event", id="1"), SSEEvent("second event", id="")]),
    (b"data\n\ndata\ndata\n\ndata:", [SSEEvent(""), SSEEvent("\n")]),
    (b"data:test\n\ndata: test\n\n", [SSEEvent("test"), SSEEvent("test")]),
    (b"event: add\ndata: 73857293\n\n", [SSEEvent("73857293", event="add")]),
    (b"data: a\r\n\r\ndata: b\r\rdata: c\n\n", [SSEEvent("a"), SSEEvent("b"), SSEEvent("c")]),
    (b"event: only\n\ndata: x\n\n", [SSEEvent("x")]),  # no data: nothing dispatched
    (b"data: unterminated", []),
])
def test_decoder_examples_split_everywhere(stream: bytes, events: list[SSEEvent]) -> None:
    assert list(parse([stream])) == events
    for i in range(len(stream) + 1):
        assert list(parse([stream[:i], stream[i:]])) == events, i
    rng = random.Random(0)
    cuts = sorted(rng.sample(range(len(stream)), min(5, len(stream))))
    parts = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)])]
    assert list(parse(parts)) == events


def test_crlf_fault_on_a_crlf_format_does_not_double() -> None:
    data = b"".join(frames("gemini", "unicode", LineEndingsFault(style="crlf")))
    assert b"\r\r" not in data and b"\r\n" in data
    assert list(parse([data])) == list(parse(frames("gemini", "unicode")))


def test_paused_pieces_never_go_out_back_to_back() -> None:
    script = compile_scenario(SCENARIOS["split-one-byte"])
    req = RequestInfo(request_id="r", format="openai_chat", body={"model": "m", "stream": True})
    items = [i for i in shape(formats()["openai_chat"].stream(script, req),
                              SCENARIOS["split-one-byte"].faults) if isinstance(i, Frame)]
    times = [i.at for i in items]
    assert all(b - a >= 0.001 - 1e-9 for a, b in zip(times, times[1:]))
    assert all(len(i.data) == 1 for i in items)
