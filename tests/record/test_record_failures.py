"""Acceptance: a recorded upstream failure replays as that same failure. A 429 with retry-after,
a mid-stream error event, a reset, a FIN mid-body and a drop before any response: the openai SDK
raises the same exception from the replay as it raised live through the recorder."""

from __future__ import annotations

import json
from pathlib import Path

import openai
import pytest

from sselab import SimulatorThread
from sselab.record import RecordingProxyThread

from .helpers import CHAT, read, recording_of
from .upstreams import Answer, RawUpstream, openai_answer, openai_events

RATE_LIMITED = {"error": {"message": "Rate limit reached for gpt-4o-mini in organization "
                                     "org-test on requests per min (RPM).",
                          "type": "requests", "param": None, "code": "rate_limit_exceeded"}}
MID_STREAM = (b'data: {"error":{"message":"The server had an error while processing your '
              b'request.","type":"server_error","param":null,"code":null}}\n\n')


def rate_limited(retry_after: str = "7") -> Answer:
    return Answer(status=429, chunked=False, pieces=[(0.0, json.dumps(RATE_LIMITED).encode())],
                  headers=[("Content-Type", "application/json"), ("retry-after", retry_after),
                           ("x-request-id", "req_429")])


FAILURES = {
    "rate_limit": rate_limited,
    "mid_stream_error": lambda: openai_answer([0.02], [90], tail=[MID_STREAM]),
    "reset": lambda: openai_answer([0.02], [90], tail=[], end="reset"),
    "close": lambda: openai_answer([0.02], [90], tail=[], end="close"),
    "reset_before": lambda: Answer(end="reset_before"),
}


def _outcome(base_url: str) -> tuple[str, BaseException | None, str]:
    client = openai.OpenAI(base_url=base_url + "/v1", api_key="sk-test", max_retries=0)
    text = ""
    try:
        for chunk in client.chat.completions.create(**CHAT):
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
    except Exception as exc:  # noqa: BLE001 - what the SDK raised is the result
        return text, exc, str(exc)
    return text, None, ""


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_a_recorded_failure_replays_as_itself(failure: str, tmp_path: Path) -> None:
    with RawUpstream(lambda request: FAILURES[failure]()) as upstream, \
            RecordingProxyThread(upstream.url, out=tmp_path) as proxy:
        live = _outcome(proxy.base_url)
        (path,) = proxy.wait_for(1)
    assert live[1] is not None, f"the live {failure} raised nothing"
    with SimulatorThread(scenario_dirs=[tmp_path]) as sim:
        replayed = _outcome(sim.base_url)
    assert type(replayed[1]) is type(live[1]), (live[2], replayed[2])
    # and for the transport failures, the same httpx error underneath (ReadError on an RST,
    # RemoteProtocolError on a FIN mid-body)
    assert type(replayed[1].__cause__) is type(live[1].__cause__)
    assert str(replayed[1].__cause__) == str(live[1].__cause__)
    assert replayed[0] == live[0], "the same text before the failure"
    if failure in ("rate_limit", "mid_stream_error"):
        assert replayed[2] == live[2]
    end = recording_of(path).response.end
    if failure == "mid_stream_error":  # the SDK may leave on the error before the body's end
        assert end in ("eof", "client_disconnected")
    else:
        assert end == {"reset": "reset", "close": "close", "reset_before": "reset"}.get(
            failure, "eof")


def test_the_429_replays_with_its_retry_after(tmp_path: Path) -> None:
    with RawUpstream(lambda request: rate_limited("7")) as upstream, \
            RecordingProxyThread(upstream.url, out=tmp_path) as proxy:
        live = _outcome(proxy.base_url)[1]
        proxy.wait_for(1)
    with SimulatorThread(scenario_dirs=[tmp_path]) as sim:
        replayed = _outcome(sim.base_url)[1]
    assert isinstance(live, openai.RateLimitError) and isinstance(replayed, openai.RateLimitError)
    assert replayed.response.headers["retry-after"] == "7"
    assert replayed.status_code == 429 and replayed.body == live.body
    assert replayed.request_id == "req_429"


def test_retries_recorded_in_order_replay_in_order(tmp_path: Path) -> None:
    """Two 429s then the stream, for identical requests: the SDK's retries replay the same."""
    answers = iter([rate_limited("0"), rate_limited("0")])

    def answer(request: bytes) -> Answer:
        return next(answers, None) or openai_answer([0.0], [4096])

    with RawUpstream(answer) as upstream, \
            RecordingProxyThread(upstream.url, out=tmp_path) as proxy:
        client = openai.OpenAI(base_url=proxy.base_url + "/v1", api_key="sk-test",
                               max_retries=2)
        live = "".join(c.choices[0].delta.content or "" for c in
                       client.chat.completions.create(**CHAT) if c.choices)
        written = proxy.wait_for(3)
    assert len(written) == 3 and live
    statuses = [recording_of(p).response.status for p in sorted(written)]
    assert statuses == [429, 429, 200]
    with SimulatorThread(scenario_dirs=[tmp_path]) as sim:
        assert [read(sim.url("/v1/chat/completions"), CHAT).status for _ in range(4)] == \
            [429, 429, 200, 200], "in recorded order, then the last one again"
    with SimulatorThread(scenario_dirs=[tmp_path]) as sim:
        client = openai.OpenAI(base_url=sim.base_url + "/v1", api_key="x", max_retries=2)
        replayed = "".join(c.choices[0].delta.content or "" for c in
                           client.chat.completions.create(**CHAT) if c.choices)
    assert replayed == live


def test_a_recorded_error_event_is_the_same_bytes(tmp_path: Path) -> None:
    events = openai_events(words=2)[:-2]
    with RawUpstream(lambda request: openai_answer([0.01], [4096], tail=[MID_STREAM])) as up, \
            RecordingProxyThread(up.url, out=tmp_path) as proxy:
        live = read(proxy.url("/v1/chat/completions"), CHAT)
        proxy.wait_for(1)
    with SimulatorThread(scenario_dirs=[tmp_path]) as sim:
        replay = read(sim.url("/v1/chat/completions"), CHAT)
    assert replay.body == live.body and replay.body.endswith(MID_STREAM)
    assert replay.body.startswith(events[0])
