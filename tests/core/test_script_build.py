"""Scenario → timed script: exact text, deterministic timing, faults at their positions."""

from __future__ import annotations

import pytest

from sselab import compile_scenario, load_all, load_text
from sselab.script.build import tokenize
from sselab.script.events import (
    Close,
    ErrorEvent,
    Finish,
    Malformed,
    Stall,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    Usage,
)

TEXT = "  Héllo,  wörld! 日本語\n\nnew para 🚀 end  "


@pytest.mark.parametrize("mode", ["words", "chars", "approx4"])
def test_tokens_rejoin_exactly(mode: str) -> None:
    tokens = tokenize(TEXT, mode)
    assert "".join(tokens) == TEXT
    assert all(tokens)


def test_word_tokens_carry_leading_space() -> None:
    assert tokenize("one two  three", "words") == ["one", " two", "  three"]


def sc(body: str):
    return compile_scenario(load_text(body, "t.yaml", default_name="t"))


def test_timing_ttft_token_and_determinism() -> None:
    body = ('response: {text: "a b c d"}\ntiming: {ttft_ms: 100, token_ms: 50, jitter_ms: 20, '
            'seed: 3}\n')
    one, two = sc(body), sc(body)
    assert one.events == two.events
    deltas = [t.at for t in one.events if isinstance(t.event, TextDelta)]
    assert deltas[0] == pytest.approx(0.1)
    gaps = [b - a for a, b in zip(deltas, deltas[1:])]
    assert all(0.03 - 1e-9 <= g <= 0.07 + 1e-9 for g in gaps)
    assert len(set(gaps)) > 1  # jitter applied
    assert isinstance(one.events[-1].event, Finish) and isinstance(one.events[-2].event, Usage)


def test_bursts_group_tokens() -> None:
    s = sc('response: {text: "a b c d e f"}\ntiming: {token_ms: 0, burst: {size: 3, '
           'pause_ms: 200}}\n')
    times = [t.at for t in s.events if isinstance(t.event, TextDelta)]
    assert times == pytest.approx([0, 0, 0, 0.2, 0.2, 0.2])


def test_faker_text_is_seeded() -> None:
    a = sc("response: {faker: {seed: 5, sentences: 3}}\n")
    b = sc("response: {faker: {seed: 5, sentences: 3}}\n")
    c = sc("response: {faker: {seed: 6, sentences: 3}}\n")
    assert a.text == b.text != c.text and len(a.text) > 20


def test_error_event_after_n_tokens_ends_stream() -> None:
    s = sc('response: {text: "a b c d e"}\ntiming: {token_ms: 10}\nfaults:\n'
           '  - {type: error_event, at_token: 2, kind: rate_limit, message: slow down}\n')
    kinds = [type(t.event) for t in s.events]
    assert kinds == [TextDelta, TextDelta, ErrorEvent]
    assert s.events[-1].event == ErrorEvent("slow down", "rate_limit")


def test_stall_shifts_everything_after_it() -> None:
    s = sc('response: {text: "a b c d"}\ntiming: {token_ms: 10}\nfaults:\n'
           '  - {type: stall, at_token: 2, ms: 1000, keepalive_ms: 100}\n')
    ev = s.events
    assert isinstance(ev[2].event, Stall) and ev[2].event == Stall(1.0, 0.1)
    assert ev[2].at == pytest.approx(0.01)  # right after the second token
    assert ev[3].at == pytest.approx(1.01)  # the third token comes after the stall
    assert ev[4].at - ev[3].at == pytest.approx(0.01)


def test_stall_forever_truncates_and_at_ms_positions() -> None:
    s = sc('response: {text: "a b c d"}\ntiming: {token_ms: 100}\nfaults:\n'
           '  - {type: stall, at_ms: 150, forever: true}\n')
    assert [type(t.event) for t in s.events] == [TextDelta, TextDelta, Stall]
    assert s.events[-1].event.seconds is None


def test_close_and_malformed_and_terminator() -> None:
    s = sc('response: {text: "a b c"}\nfaults:\n  - {type: malformed_json, at_token: 1}\n'
           '  - {type: close, at_token: 2}\n  - {type: missing_terminator}\n')
    assert [type(t.event) for t in s.events] == [TextDelta, Malformed, TextDelta, Close]
    assert s.terminate is False


def test_tool_call_fragments_rejoin_and_start_first() -> None:
    s = compile_scenario(load_all()["tool-call"])
    starts = [t.event for t in s.events if isinstance(t.event, ToolCallStart)]
    args = "".join(t.event.arguments for t in s.events if isinstance(t.event, ToolCallDelta))
    assert [c.name for c in starts] == ["get_weather"]
    assert args == s.tool_calls[0].arguments == '{"city": "Paris", "unit": "celsius", "days": 3}'
    assert s.tool_calls[0].call_id == starts[0].call_id
    assert s.finish_reason == "tool_calls"


def test_http_error_fault() -> None:
    s = compile_scenario(load_all()["http-429"])
    assert s.http_error is not None and s.http_error.status == 429
    assert s.http_error.retry_after == 2 and s.http_error.kind == "rate_limit"


def test_every_builtin_compiles_and_times_never_go_back() -> None:
    for scenario in load_all().values():
        s = compile_scenario(scenario)
        times = [t.at for t in s.events]
        assert times == sorted(times), scenario.name
