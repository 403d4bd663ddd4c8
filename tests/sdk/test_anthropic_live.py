"""The real anthropic SDK (sync and async) against the running simulator, scenario by scenario.

Each row is what the SDK does against the real API for that fault (docs/sdk-behaviour.md).
Transport failures surface as the HTTP library's own exceptions (anthropic 2.x runs on httpx2),
not as ``anthropic.APIConnectionError``: the table says so because apps get it wrong.
"""

from __future__ import annotations

import json
import threading

import anthropic
import httpx2
import pytest

from sselab import Simulator, SimulatorThread, compile_scenario

CASES: dict[str, object] = {
    "default": "ok", "unicode": "ok", "tool-call": "ok", "json-output": "ok", "thinking": "ok",
    "split-one-byte": "ok", "split-random": "ok", "split-utf8": "ok", "crlf-line-endings": "ok",
    "cr-line-endings": "ok", "missing-terminator": "ok",
    "mid-stream-error": anthropic.APIStatusError, "malformed-json": json.JSONDecodeError,
    "drop-mid-stream": httpx2.RemoteProtocolError, "reset-mid-stream": httpx2.ReadError,
    "http-429": anthropic.RateLimitError, "http-500": anthropic.InternalServerError,
    "http-503": anthropic.ServiceUnavailableError, "http-529": anthropic.OverloadedError,
    "stall-forever": httpx2.ReadTimeout,
}


def _expected(sim, name: str) -> tuple[str, str, list[str]]:
    s = compile_scenario(sim.scenarios[name])
    return s.text, s.thinking, [c.arguments for c in s.tool_calls]


def _check(sim, name: str, text: str, thinking: str, args: list[str],
           raised: BaseException | None) -> None:
    want = CASES[name]
    full, full_thinking, calls = _expected(sim, name)
    if want == "ok":
        assert raised is None, f"{name}: {raised!r}"
        assert (text, thinking, args) == (full, full_thinking, calls)
    else:
        assert isinstance(raised, want), f"{name}: {raised!r}"  # type: ignore[arg-type]
        assert full.startswith(text)
        if name == "mid-stream-error":
            assert raised.status_code == 200 and "overloaded" in str(raised.body)
            assert not isinstance(raised, anthropic.OverloadedError)  # a common mistake to catch


def _consume(events) -> tuple[str, str, list[str]]:
    text, thinking, args = "", "", {}
    for ev in events:
        if ev.type == "content_block_start" and ev.content_block.type == "tool_use":
            args[ev.index] = ""
        if ev.type == "content_block_delta":
            d = ev.delta
            if d.type == "text_delta":
                text += d.text
            elif d.type == "thinking_delta":
                thinking += d.thinking
            elif d.type == "input_json_delta":
                args[ev.index] += d.partial_json
    return text, thinking, [args[k] for k in sorted(args)]


@pytest.mark.parametrize("name", sorted(CASES))
def test_sync_client(sim_thread: SimulatorThread, name: str) -> None:
    client = anthropic.Anthropic(base_url=sim_thread.base_url, api_key="sk-test",
                                 max_retries=0, timeout=1.0)
    text, thinking, args, raised = "", "", [], None
    try:
        stream = client.messages.create(model=name, max_tokens=256, stream=True,
                                        messages=[{"role": "user", "content": "hi"}])
        text, thinking, args = _consume(stream)
        stream.close()
    except Exception as exc:
        raised = exc
    _check(sim_thread, name, text, thinking, args, raised)


@pytest.mark.parametrize("name", ["default", "thinking", "tool-call", "split-utf8",
                                  "mid-stream-error", "http-529", "stall-forever"])
async def test_async_client(sim: Simulator, name: str) -> None:
    client = anthropic.AsyncAnthropic(base_url=sim.base_url, api_key="sk-test",
                                      max_retries=0, timeout=1.0)
    text, thinking, args, raised = "", "", {}, None
    try:
        async with client.messages.stream(model=name, max_tokens=256, messages=[
                {"role": "user", "content": "hi"}]) as stream:
            async for ev in stream:
                if ev.type == "content_block_start" and ev.content_block.type == "tool_use":
                    args[ev.index] = ""
                if ev.type == "content_block_delta":
                    if ev.delta.type == "text_delta":
                        text += ev.delta.text
                    elif ev.delta.type == "thinking_delta":
                        thinking += ev.delta.thinking
                    elif ev.delta.type == "input_json_delta":
                        args[ev.index] += ev.delta.partial_json
    except Exception as exc:
        raised = exc
    _check(sim, name, text, thinking, [args[k] for k in sorted(args)], raised)


def test_helper_final_message_and_non_streaming(sim_thread: SimulatorThread) -> None:
    client = anthropic.Anthropic(base_url=sim_thread.base_url, api_key="sk-test", max_retries=0)
    full, _, calls = _expected(sim_thread, "tool-call")
    with client.messages.stream(model="tool-call", max_tokens=100, messages=[
            {"role": "user", "content": "weather?"}]) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert final.content[0].text == full
    assert json.loads(calls[0]) == final.content[1].input
    done = client.messages.create(model="unicode", max_tokens=10, messages=[])
    assert done.content[0].text == _expected(sim_thread, "unicode")[0]


def test_keepalive_pings_keep_a_read_timeout_from_ever_firing(sim_thread: SimulatorThread) -> None:
    """A stalled stream that sends pings hangs a client forever: only a total deadline helps."""
    client = anthropic.Anthropic(base_url=sim_thread.base_url, api_key="sk-test",
                                 max_retries=0, timeout=1.5)  # read timeout > the 1 s pings
    outcome: list[object] = []

    def consume() -> None:
        try:
            outcome.append(_consume(client.messages.create(
                model="stall-keepalive", max_tokens=64, stream=True, messages=[])))
        except Exception as exc:  # ended when the simulator shuts down
            outcome.append(exc)

    worker = threading.Thread(target=consume, daemon=True)
    worker.start()
    worker.join(3.5)
    assert worker.is_alive() and outcome == []  # no exception after 3.5 s of stall
    rec = sim_thread.recorder.find(lambda r: r.scenario == "stall-keepalive")
    assert rec.outcome == "in_progress"
    pings = [w for w in rec.writes if w[1] == len(b"event: ping\ndata: {\"type\":\"ping\"}\n\n")]
    assert len(pings) >= 3  # the opening ping and at least two keep-alives
