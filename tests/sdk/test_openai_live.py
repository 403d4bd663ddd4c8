"""The real openai SDK (sync and async) against the running simulator, scenario by scenario.

Each row is what the SDK does against the real API for that fault; docs/sdk-behaviour.md shows
the same table.
"""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from sselab import Simulator, SimulatorThread, compile_scenario

# scenario -> expected: "ok" (exact text), or the exception class the SDK raises
CASES = {
    "default": "ok", "unicode": "ok", "tool-call": "ok", "json-output": "ok", "thinking": "ok",
    "split-one-byte": "ok", "split-random": "ok", "split-utf8": "ok", "crlf-line-endings": "ok",
    "cr-line-endings": "ok", "missing-terminator": "ok",
    "mid-stream-error": openai.APIError, "malformed-json": json.JSONDecodeError,
    "drop-mid-stream": openai.APIConnectionError, "reset-mid-stream": openai.APIConnectionError,
    "http-429": openai.RateLimitError, "http-500": openai.InternalServerError,
    "http-503": openai.InternalServerError, "http-529": openai.InternalServerError,
    "stall-forever": openai.APITimeoutError,
}
OUTCOME = {"mid-stream-error": "error_event", "drop-mid-stream": "fault_closed",
           "reset-mid-stream": "fault_reset", "http-429": "http_error", "http-500": "http_error",
           "http-503": "http_error", "http-529": "http_error",
           "stall-forever": "client_disconnected"}


def _expected(sim: Simulator | SimulatorThread, name: str) -> tuple[str, list[str]]:
    script = compile_scenario(sim.scenarios[name])
    return script.text, [c.arguments for c in script.tool_calls]


def _check(sim, name: str, text: str, args: dict[int, str], raised: BaseException | None,
           finish: str | None) -> None:
    want = CASES[name]
    full, calls = _expected(sim, name)
    if want == "ok":
        assert raised is None, f"{name}: {raised!r}"
        assert text == full and [args[i] for i in sorted(args)] == calls
        assert finish in ("stop", "tool_calls") or name == "missing-terminator"
    else:
        assert type(raised) is want or isinstance(raised, want), f"{name}: {raised!r}"
        assert full.startswith(text)  # what arrived before the fault is a prefix, never garbage
        if name == "mid-stream-error":
            assert len(text.split()) >= 35  # ~40 tokens arrived before the error
    rec = sim.recorder.find(lambda r: r.scenario == name)
    assert rec is not None


@pytest.mark.parametrize("name", sorted(CASES))
def test_sync_client(sim_thread: SimulatorThread, name: str) -> None:
    client = openai.OpenAI(base_url=sim_thread.base_url + "/v1", api_key="sk-test",
                           max_retries=0, timeout=httpx.Timeout(1.0, connect=5.0))
    text, args, raised, finish = "", {}, None, None
    try:
        stream = client.chat.completions.create(
            model=name, messages=[{"role": "user", "content": "hi"}], stream=True,
            stream_options={"include_usage": True})
        for chunk in stream:
            for choice in chunk.choices:
                text += choice.delta.content or ""
                for tc in choice.delta.tool_calls or []:
                    args[tc.index] = args.get(tc.index, "") + (tc.function.arguments or "")
                finish = choice.finish_reason or finish
    except Exception as exc:  # the row says which
        raised = exc
    _check(sim_thread, name, text, args, raised, finish)
    if name in OUTCOME:
        rec = sim_thread.wait_for(lambda r: r.scenario == name and r.done, timeout=5)
        assert rec.outcome == OUTCOME[name]


@pytest.mark.parametrize("name", ["default", "unicode", "tool-call", "split-utf8",
                                  "mid-stream-error", "drop-mid-stream", "http-429",
                                  "stall-forever"])
async def test_async_client(sim: Simulator, name: str) -> None:
    client = openai.AsyncOpenAI(base_url=sim.base_url + "/v1", api_key="sk-test",
                                max_retries=0, timeout=httpx.Timeout(1.0, connect=5.0))
    text, args, raised, finish = "", {}, None, None
    try:
        stream = await client.chat.completions.create(
            model=name, messages=[{"role": "user", "content": "hi"}], stream=True)
        async for chunk in stream:
            for choice in chunk.choices:
                text += choice.delta.content or ""
                for tc in choice.delta.tool_calls or []:
                    args[tc.index] = args.get(tc.index, "") + (tc.function.arguments or "")
                finish = choice.finish_reason or finish
    except Exception as exc:
        raised = exc
    _check(sim, name, text, args, raised, finish)


def test_stream_helper_and_non_streaming(sim_thread: SimulatorThread) -> None:
    client = openai.OpenAI(base_url=sim_thread.base_url + "/v1", api_key="sk-test",
                           max_retries=0)
    full, calls = _expected(sim_thread, "tool-call")
    with client.chat.completions.stream(model="tool-call", messages=[
            {"role": "user", "content": "weather?"}]) as stream:
        final = stream.get_final_completion()
    message = final.choices[0].message
    assert message.content == full
    assert message.tool_calls[0].function.arguments == calls[0]
    done = client.chat.completions.create(model="unicode", messages=[])
    assert done.choices[0].message.content == _expected(sim_thread, "unicode")[0]


def test_retry_after_is_honoured_by_the_sdk(sim_thread: SimulatorThread) -> None:
    sim_thread.add_scenario("name: quick-429\nresponse: {text: x}\n"
                            "faults: [{type: http_error, status: 429, retry_after: 0.2}]\n")
    client = openai.OpenAI(base_url=sim_thread.base_url + "/v1", api_key="sk-test",
                           max_retries=2)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="quick-429", messages=[])
    tries = [r for r in sim_thread.requests if r.scenario == "quick-429"]
    assert len(tries) == 3
    gaps = [b.received_at - a.received_at for a, b in zip(tries, tries[1:])]
    assert all(0.18 <= g < 2.0 for g in gaps), gaps


def test_responses_api_streams_exact_text(sim_thread: SimulatorThread) -> None:
    client = openai.OpenAI(base_url=sim_thread.base_url + "/v1", api_key="sk-test",
                           max_retries=0)
    text = ""
    for event in client.responses.create(model="unicode", input="hi", stream=True):
        if event.type == "response.output_text.delta":
            text += event.delta
    assert text == _expected(sim_thread, "unicode")[0]
    assert sim_thread.last.format == "openai_responses"
