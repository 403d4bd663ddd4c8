"""Which recording a request gets: matched on method, path, model and conversation (or what the
recording's ``match`` says); ``X-Sselab-Scenario`` or the model name picks one by name; a request
that matches nothing gets a provider-shaped error naming the nearest recording and what
differed."""

from __future__ import annotations

import json
from pathlib import Path

import anthropic
import openai
import pytest

from sselab import SimulatorThread
from sselab.record import RecordingProxyThread

from .helpers import read, recording_of
from .upstreams import Answer, RawUpstream, openai_events, request_json


def _answer(request: bytes) -> Answer:
    question = request_json(request)["messages"][-1]["content"]
    data = b"".join(openai_events(f"You asked {question}"))
    return Answer(pieces=[(0.0, data)])


def _chat(content: str, model: str = "gpt-4o-mini") -> dict:
    return {"model": model, "stream": True, "messages": [{"role": "user", "content": content}]}


def _text(base_url: str, body: dict, headers: dict | None = None) -> str:
    client = openai.OpenAI(base_url=base_url + "/v1", api_key="x", max_retries=0,
                           default_headers=headers or {})
    return "".join(c.choices[0].delta.content or "" for c in
                   client.chat.completions.create(**body) if c.choices)


@pytest.fixture
def recorded(tmp_path: Path) -> dict[str, str]:
    """Two recordings, questions "A?" and "B?": name -> question."""
    with RawUpstream(_answer) as upstream, \
            RecordingProxyThread(upstream.url, out=tmp_path) as proxy:
        for q in ("A?", "B?"):
            read(proxy.url("/v1/chat/completions"), _chat(q))
        paths = proxy.wait_for(2)
    return {p.stem: recording_of(p).request.body["messages"][0]["content"] for p in paths}


def test_matched_by_conversation(recorded: dict[str, str], tmp_path: Path) -> None:
    with SimulatorThread(scenario_dirs=[tmp_path]) as sim:
        assert _text(sim.base_url, _chat("B?")) == "You asked B?"
        assert _text(sim.base_url, _chat("A?")) == "You asked A?"
        assert {r.scenario for r in sim.requests} == set(recorded)


def test_picked_by_name(recorded: dict[str, str], tmp_path: Path) -> None:
    by_question = {q: name for name, q in recorded.items()}
    with SimulatorThread(scenario_dirs=[tmp_path]) as sim:
        header = {"X-Sselab-Scenario": by_question["A?"]}
        assert _text(sim.base_url, _chat("something else"), header) == "You asked A?"
        assert _text(sim.base_url, _chat("else", model=by_question["B?"])) == "You asked B?"
        # a built-in scenario by name still works beside the recordings
        assert _text(sim.base_url, _chat("x", model="default")).startswith("Hello!")


def test_no_match_names_the_nearest_recording(recorded: dict[str, str], tmp_path: Path) -> None:
    by_question = {q: name for name, q in recorded.items()}
    with SimulatorThread(scenario_dirs=[tmp_path]) as sim:
        with pytest.raises(openai.NotFoundError) as info:
            _text(sim.base_url, _chat("C?"))
        message = info.value.message
        assert "no recording matches POST /v1/chat/completions (model gpt-4o-mini)" in message
        assert by_question["A?"] in message and str(tmp_path) in message
        assert 'conversation (messages[0].content: recorded "A?", got "C?")' in message
        with pytest.raises(openai.NotFoundError) as info:
            _text(sim.base_url, _chat("A?", model="gpt-4.1"))
        assert 'model (recorded "gpt-4o-mini", got "gpt-4.1")' in info.value.message
        client = anthropic.Anthropic(base_url=sim.base_url, api_key="x", max_retries=0)
        with pytest.raises(anthropic.NotFoundError) as ainfo:  # in Anthropic's error shape
            client.messages.create(model="claude", max_tokens=5,
                                   messages=[{"role": "user", "content": "A?"}])
        assert "path (recorded \"/v1/chat/completions\", got \"/v1/messages\")" in str(ainfo.value)
        assert sim.wait_for(lambda r: r.status == 404 and r.done).outcome == "http_error"


def test_match_on_is_written_and_used(tmp_path: Path) -> None:
    with RawUpstream(_answer) as upstream, RecordingProxyThread(
            upstream.url, out=tmp_path, match=("method", "path")) as proxy:
        read(proxy.url("/v1/chat/completions"), _chat("A?"))
        (path,) = proxy.wait_for(1)
    assert "match:\n  - method\n  - path\n" in path.read_text()
    with SimulatorThread(scenario_dirs=[tmp_path]) as sim:
        assert _text(sim.base_url, _chat("anything", model="other")) == "You asked A?"


def test_replay_timing_instant_and_speed(recorded: dict[str, str], tmp_path: Path) -> None:
    with RawUpstream(lambda req: Answer(pieces=[(0.0, b"data: 1\n\n"), (0.3, b"data: 2\n\n")])
                     ) as upstream, RecordingProxyThread(upstream.url, out=tmp_path) as proxy:
        read(proxy.url("/v1/chat/completions"), _chat("slow?"))
        (path,) = proxy.wait_for(1)
    text = path.read_text()
    for timing, low, high in (("", 0.25, 0.6), ("  timing: instant\n", 0.0, 0.1),
                              ("  speed: 3\n", 0.07, 0.2)):
        path.write_text(text.replace("recording:\n", "recording:\n" + timing))
        with SimulatorThread(scenario_dirs=[tmp_path]) as sim:
            got = read(sim.url("/v1/chat/completions"), _chat("slow?"))
        took = got.pieces[-1][0] - got.pieces[0][0]
        assert got.body == b"data: 1\n\ndata: 2\n\n"
        assert low <= took <= high, (timing, took)
    json.dumps(recorded)  # the fixture's recordings stay loadable beside it
