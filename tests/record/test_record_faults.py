"""Faults on recordings, and recordings in another wire format: a scenario that names a recording
as its ``response`` gets the recording decoded into the timed script, so every fault applies
and every encoder re-encodes it (record OpenAI, replay as Anthropic). A recorded failure keeps
being that failure in the other format."""

from __future__ import annotations

import json
from pathlib import Path

import anthropic
import openai
import pytest

from sselab import ScenarioError, SimulatorThread, load_file
from sselab.record import RecordingProxyThread

from .helpers import CHAT, read
from .test_record_failures import FAILURES
from .upstreams import TEXT, RawUpstream, openai_answer

ANTHROPIC_BODY = {"max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}


def _record(tmp_path: Path, answer=None) -> str:
    answer = answer or (lambda request: openai_answer([0.03, 0.05], [80, 41, 200]))
    with RawUpstream(answer) as upstream, \
            RecordingProxyThread(upstream.url, out=tmp_path) as proxy:
        read(proxy.url("/v1/chat/completions"), CHAT)
        (path,) = proxy.wait_for(1)
    return path.stem


def _scenario(tmp_path: Path, name: str, recording: str, faults: list | None = None) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"name: {name}\nresponse: {{recording: {recording}}}\n"
                    + (f"faults: {json.dumps(faults)}\n" if faults else ""))
    return path


def test_record_openai_replay_as_anthropic(tmp_path: Path) -> None:
    _scenario(tmp_path, "as-anthropic", _record(tmp_path))
    with SimulatorThread(scenario_dirs=[tmp_path]) as sim:
        client = anthropic.Anthropic(base_url=sim.base_url, api_key="x", max_retries=0)
        with client.messages.stream(model="as-anthropic", **ANTHROPIC_BODY) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
        record = sim.wait_for()
    assert text == TEXT and final.stop_reason == "end_turn"
    assert record.scenario == "as-anthropic" and record.format == "anthropic"
    offsets = [t - record.received for t, *_ in record.writes]
    assert offsets[-1] - offsets[0] > 0.2, "at the recorded times, not all at once"


def test_record_openai_replay_as_gemini_and_ollama_bytes(tmp_path: Path) -> None:
    _scenario(tmp_path, "elsewhere", _record(tmp_path))
    with SimulatorThread(scenario_dirs=[tmp_path]) as sim:
        gemini = read(sim.url("/v1beta/models/elsewhere:streamGenerateContent?alt=sse"),
                      {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
        ollama = read(sim.url("/api/chat"), {"model": "elsewhere", "messages": []})
    texts = [json.loads(line[6:])["candidates"][0]["content"]["parts"][0]["text"]
             for line in gemini.body.decode().split("\r\n") if line.startswith("data: ")]
    assert "".join(texts) == TEXT
    lines = [json.loads(line) for line in ollama.body.decode().splitlines() if line]
    assert "".join(x["message"]["content"] for x in lines) == TEXT and lines[-1]["done"]


def test_faults_apply_to_a_recorded_answer(tmp_path: Path) -> None:
    name = _record(tmp_path)
    _scenario(tmp_path, "recorded-overloaded", name,
              [{"type": "error_event", "at_token": 3, "kind": "overloaded",
                "message": "Overloaded"}])
    _scenario(tmp_path, "recorded-split", name, [{"type": "split", "mode": "bytes"}])
    with SimulatorThread(scenario_dirs=[tmp_path]) as sim:
        client = openai.OpenAI(base_url=sim.base_url + "/v1", api_key="x", max_retries=0)
        got = ""
        with pytest.raises(openai.APIError) as info:
            for chunk in client.chat.completions.create(**{**CHAT,
                                                           "model": "recorded-overloaded"}):
                got += chunk.choices[0].delta.content or "" if chunk.choices else ""
        assert info.value.message == "Overloaded"
        assert got == " ".join(TEXT.split(" ")[:3]), "the first 3 recorded tokens, then the error"
        split = read(sim.url("/v1/chat/completions"), {**CHAT, "model": "recorded-split"})
        writes = sim.wait_for(lambda r: r.scenario == "recorded-split").writes
        assert {n for _, n, *_ in writes} == {1}, "split into one-byte writes"
        text = "".join(json.loads(e[6:])["choices"][0]["delta"].get("content") or ""
                       for e in split.body.decode().split("\n\n")
                       if e.startswith("data: {") and '"choices":[{' in e)
        assert text == TEXT


def test_a_fault_position_is_checked_against_the_recording(tmp_path: Path) -> None:
    name = _record(tmp_path)
    path = _scenario(tmp_path, "too-far", name, [{"type": "reset", "at_token": 999}])
    with pytest.raises(ScenarioError) as info:
        load_file(path)
    tokens = len(TEXT.split(" "))
    assert f"faults[0].at_token: must be between 0 and {tokens} (the scenario has {tokens} " \
           "tokens)" in str(info.value)
    missing = _scenario(tmp_path, "missing", "no-such-recording")
    with pytest.raises(ScenarioError) as info:
        load_file(missing)
    assert str(info.value).startswith(f"{missing}:2: response.recording: no recording "
                                      "'no-such-recording'")


def _anthropic_failure(base_url: str, model: str) -> BaseException:
    client = anthropic.Anthropic(base_url=base_url, api_key="x", max_retries=0)
    try:
        with client.messages.stream(model=model, **ANTHROPIC_BODY) as stream:
            for _ in stream.text_stream:
                pass
    except Exception as exc:  # noqa: BLE001 - what the SDK raised is the result
        return exc
    raise AssertionError(f"{model}: the anthropic SDK raised nothing")


@pytest.mark.parametrize("failure, scripted", [("rate_limit", "http-429"),
                                               ("reset", "reset-mid-stream"),
                                               ("mid_stream_error", "mid-stream-error")])
def test_a_recorded_failure_stays_that_failure_in_another_format(failure: str, scripted: str,
                                                                 tmp_path: Path) -> None:
    """The anthropic SDK raises for the re-encoded recording what it raises for sselab's own
    scripted failure of that kind."""
    _scenario(tmp_path, "as-anthropic", _record(tmp_path, lambda request: FAILURES[failure]()))
    with SimulatorThread(scenario_dirs=[tmp_path]) as sim:
        got = _anthropic_failure(sim.base_url, "as-anthropic")
        want = _anthropic_failure(sim.base_url, scripted)
    assert type(got) is type(want), (got, want)
    if failure == "rate_limit":
        assert isinstance(got, anthropic.RateLimitError)
        assert got.response.headers["retry-after"] == "7"
        assert "Rate limit reached" in got.message
    if failure == "mid_stream_error":
        assert "The server had an error" in str(got)


def test_faults_in_the_recording_file_itself_apply_when_it_is_matched(tmp_path: Path) -> None:
    path = tmp_path / f"{_record(tmp_path)}.yaml"
    path.write_text(path.read_text() + "faults:\n- {type: error_event, at_token: 2, kind: "
                                       "overloaded, message: Overloaded}\n")
    with SimulatorThread(scenario_dirs=[tmp_path]) as sim:
        client = openai.OpenAI(base_url=sim.base_url + "/v1", api_key="x", max_retries=0)
        got = ""
        with pytest.raises(openai.APIError) as info:  # CHAT names no scenario: it matches
            for chunk in client.chat.completions.create(**CHAT):
                got += chunk.choices[0].delta.content or "" if chunk.choices else ""
        assert info.value.message == "Overloaded" and got == " ".join(TEXT.split(" ")[:2])
        assert sim.wait_for().scenario == path.stem


def test_an_undecodable_recording_loads_but_cannot_take_faults(tmp_path: Path) -> None:
    (tmp_path / "binary.yaml").write_text(
        "recording:\n  upstream: http://u\n  recorded_at: '2026-01-01T00:00:00Z'\n"
        "  format: openai_chat\n  request: {method: POST, path: /v1/chat/completions}\n"
        "  response:\n    status: 200\n    headers: ['content-type: text/event-stream']\n"
        "    pieces: [{at_ms: 1, b64: gICA}]\n")
    assert load_file(tmp_path / "binary.yaml").recording is not None  # replayed verbatim
    path = _scenario(tmp_path, "faulted", "binary", [{"type": "reset", "at_token": 0}])
    with pytest.raises(ScenarioError) as info:
        load_file(path)
    assert str(info.value) == (f"{path}:2: response.recording: faults and other wire formats "
                               "need the recording decoded, and its body is not openai_chat "
                               "text (not UTF-8)")
