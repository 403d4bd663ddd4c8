"""Every wire format decodes back into the timed script: sselab's own encoders write a stream
from a script, the stream is taken as a recording, and decoding it gives the same text,
thinking, tool calls, finish reason, usage and error (what each format carries), at the times
the bytes were sent."""

from __future__ import annotations

import pytest

from sselab import load_dir
from sselab.encoders import Frame, RequestInfo, formats
from sselab.record.decode import DECODERS, decode
from sselab.record.schema import Piece, RecordedRequest, RecordedResponse, Recording
from sselab.scenario import builtin_dir
from sselab.script.build import compile_scenario
from sselab.script.events import (
    ErrorEvent,
    Finish,
    Script,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallStart,
    Usage,
)

SCENARIOS = ("default", "tool-call", "thinking", "mid-stream-error", "content-filter", "unicode")
NO_THINKING = {"openai_chat", "azure_openai"}  # the API sends none on this endpoint
NO_USAGE = {"vercel_ui_stream"}
NO_FILTER = {"ollama"}  # Ollama filters nothing: content_filter reads stop


def recording_from(fmt_name: str, script: Script, body: dict | None = None) -> Recording:
    fmt = formats()[fmt_name]
    req = RequestInfo("req_1", fmt_name, model="m", path="/api/chat",
                      body=body or {"stream_options": {"include_usage": True}})
    frames = [i for i in fmt.stream(script, req) if isinstance(i, Frame)]
    return Recording(
        upstream="http://test", recorded_at="2026-01-01T00:00:00Z", format=fmt_name,
        request=RecordedRequest("POST", "/"),
        response=RecordedResponse(status=200, headers=[f"content-type: {fmt.content_type}"],
                                  pieces=tuple(Piece(f.at * 1000, f.data) for f in frames)))


def summary(events: list) -> dict:
    out: dict = {"text": "", "thinking": "", "calls": {}, "finish": None, "error": None,
                 "usage": None}
    for t in events:
        ev = t.event
        if isinstance(ev, TextDelta):
            out["text"] += ev.text
        elif isinstance(ev, ThinkingDelta):
            out["thinking"] += ev.text
        elif isinstance(ev, ToolCallStart):
            out["calls"][ev.index] = [ev.name, ""]
        elif isinstance(ev, ToolCallDelta):
            out["calls"][ev.index][1] += ev.arguments
        elif isinstance(ev, Finish):
            out["finish"] = ev.reason
        elif isinstance(ev, ErrorEvent):
            out["error"] = ev.message
        elif isinstance(ev, Usage):
            out["usage"] = (ev.input_tokens, ev.output_tokens)
    out["calls"] = [tuple(c) for _, c in sorted(out["calls"].items())]
    return out


def test_every_format_has_a_decoder() -> None:
    assert set(DECODERS) == set(formats())


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("fmt", sorted(formats()))
def test_decode_gives_back_the_script(fmt: str, scenario: str) -> None:
    script = compile_scenario(load_dir(builtin_dir())[scenario])
    want, got = summary(script.events), summary(decode(recording_from(fmt, script)).events)
    assert got["text"] == want["text"]
    assert got["thinking"] == ("" if fmt in NO_THINKING else want["thinking"])
    assert got["calls"] == want["calls"]
    assert got["error"] == want["error"]
    if want["finish"] == "content_filter" and fmt in NO_FILTER:
        want["finish"] = "stop"
    assert got["finish"] == want["finish"]
    if fmt not in NO_USAGE and want["usage"] and not want["error"]:
        assert got["usage"][1] == want["usage"][1]


@pytest.mark.parametrize("fmt", sorted(formats()))
def test_events_are_due_when_their_bytes_were(fmt: str) -> None:
    script = compile_scenario(load_dir(builtin_dir())["default"])
    sent = [t.at for t in script.events if isinstance(t.event, TextDelta)]
    got = [t.at for t in decode(recording_from(fmt, script)).events
           if isinstance(t.event, TextDelta)]
    assert got == pytest.approx(sent)


def test_the_terminator_and_a_cut_stream() -> None:
    script = compile_scenario(load_dir(builtin_dir())["default"])
    whole = recording_from("openai_chat", script)
    assert decode(whole).terminate is True
    pieces = whole.response.pieces[:-1]  # no [DONE]
    cut = Recording(whole.upstream, whole.recorded_at, whole.request,
                    RecordedResponse(200, whole.response.headers, pieces=pieces, end="reset"),
                    format="openai_chat")
    decoded = decode(cut)
    assert decoded.terminate is False
    assert type(decoded.events[-1].event).__name__ == "Reset"
