"""Acceptance: record from upstreams sselab did not write (a raw-socket server writing an OpenAI
stream in uneven pieces with pauses, one piece cutting a UTF-8 character; an sse-starlette app),
through the real openai and anthropic SDKs; the replay is byte-identical, with the same piece
boundaries and offsets within a few ms, and the SDKs get the same text from it."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import anthropic
import openai
import pytest

from sselab import SimulatorThread
from sselab.record import RecordingProxyThread

from .helpers import CHAT, gaps, read, recording_of
from .upstreams import (
    ANTHROPIC_TEXT,
    TEXT,
    RawUpstream,
    anthropic_app,
    openai_answer,
    uvicorn_server,
)

PAUSES = [0.03, 0.06, 0.045, 0.035]
SIZES = [37, 101, 64, 9, 150, 23]
TOLERANCE = 0.012  # seconds: offsets "within a few ms", with room for a loaded 2-core machine


def _sdk_text(base_url: str) -> tuple[str, list[float]]:
    client = openai.OpenAI(base_url=base_url + "/v1", api_key="sk-test", max_retries=0)
    text, arrived = "", []
    for chunk in client.chat.completions.create(**CHAT):
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
            arrived.append(time.monotonic())
    return text, arrived


@pytest.fixture
def raw_openai() -> RawUpstream:
    with RawUpstream(lambda request: openai_answer(PAUSES, SIZES)) as upstream:
        yield upstream


def test_relay_is_live_and_the_recording_keeps_every_piece(raw_openai, tmp_path: Path) -> None:
    with RecordingProxyThread(raw_openai.url, out=tmp_path) as proxy:
        live = read(proxy.url("/v1/chat/completions"), CHAT)
        (path,) = proxy.wait_for(1)
    wrote = raw_openai.log[0]
    sent = [w.data for w in wrote]
    assert live.data == sent, "the relay keeps the upstream's piece boundaries"
    assert any(_not_utf8(p) for p in sent), "one piece cuts a UTF-8 character"
    for i, ((arrived, _), w) in enumerate(zip(live.pieces, wrote)):
        assert arrived - w.at < 0.025, f"piece {i} was held {arrived - w.at:.3f} s"
        if i + 1 < len(wrote):  # no buffering: each piece is out before the next is written
            assert arrived < wrote[i + 1].at
    rec = recording_of(path)
    assert [p.data for p in rec.response.pieces] == sent
    recorded = gaps([p.at for p in rec.response.pieces])
    for got, want in zip(recorded, gaps([w.at for w in wrote])):
        assert abs(got - want) < TOLERANCE
    text = path.read_text()
    assert "b64:" in text and '"data: {' in text  # the cut piece as base64, the rest as text


def test_replay_is_byte_identical_with_the_same_pieces_and_offsets(raw_openai,
                                                                    tmp_path: Path) -> None:
    with RecordingProxyThread(raw_openai.url, out=tmp_path) as proxy:
        live = read(proxy.url("/v1/chat/completions"), CHAT)
        (path,) = proxy.wait_for(1)
    rec = recording_of(path)
    with SimulatorThread(scenario_dirs=[tmp_path]) as sim:
        replay = read(sim.url("/v1/chat/completions"), CHAT)
        assert sim.wait_for().outcome == "completed"
        writes = sim.last.writes
    assert replay.status == 200 and replay.body == live.body
    assert replay.data == [p.data for p in rec.response.pieces], "same piece boundaries"
    assert replay.headers["x-request-id"] == "req_raw_1"
    assert replay.headers["content-type"] == "text/event-stream; charset=utf-8"
    _same_offsets(replay.offsets_ms(), [p.at_ms for p in rec.response.pieces])
    assert len(writes) == len(rec.response.pieces), "the timeline has one write per piece"


def test_openai_sdk_streams_live_and_gets_the_same_text_from_the_replay(
        raw_openai, tmp_path: Path) -> None:
    with RecordingProxyThread(raw_openai.url, out=tmp_path) as proxy:
        live_text, arrived = _sdk_text(proxy.base_url)
        proxy.wait_for(1)
    wrote = raw_openai.log[0]
    assert live_text == TEXT
    # the SDK saw the first words while the upstream was still writing the rest
    assert arrived[0] < wrote[-1].at - 0.2
    with SimulatorThread(scenario_dirs=[tmp_path]) as sim:
        replay_text, replay_arrived = _sdk_text(sim.base_url)
    assert replay_text == TEXT
    assert replay_arrived[-1] - replay_arrived[0] > 0.2, "the replay keeps the rhythm"


def test_anthropic_sdk_through_sse_starlette(tmp_path: Path) -> None:
    body = {"model": "claude-test", "max_tokens": 64,
            "messages": [{"role": "user", "content": "Bonjour ?"}]}
    with uvicorn_server(anthropic_app()) as url, RecordingProxyThread(url, out=tmp_path) as proxy:
        client = anthropic.Anthropic(base_url=proxy.base_url, api_key="sk-ant-test",
                                     max_retries=0)
        t0, deltas = time.monotonic(), []
        with client.messages.stream(**body) as stream:
            for text in stream.text_stream:
                deltas.append((time.monotonic() - t0, text))
        (path,) = proxy.wait_for(1)
    assert "".join(t for _, t in deltas) == "".join(ANTHROPIC_TEXT)
    assert deltas[-1][0] - deltas[0][0] > 0.15, "each delta arrived as the app sent it"
    rec = recording_of(path)
    assert rec.format == "anthropic" and len(rec.response.pieces) >= len(ANTHROPIC_TEXT)
    assert b"\r\n" in rec.response.body, "sse-starlette's own framing is kept"
    with SimulatorThread(scenario_dirs=[tmp_path]) as sim:
        replay = read(sim.url("/v1/messages"), {**body, "stream": True})
        client = anthropic.Anthropic(base_url=sim.base_url, api_key="x", max_retries=0)
        with client.messages.stream(**body) as stream:
            replay_text = "".join(stream.text_stream)
    assert replay.data == [p.data for p in rec.response.pieces]
    assert replay_text == "".join(ANTHROPIC_TEXT)


def _same_offsets(got: list[float], want: list[float]) -> None:
    """Offsets (ms) agree within a few ms: each piece's, from the first one's (the client's own
    connection set-up aside); a typical piece within 3 ms, every piece within TOLERANCE plus
    what a loaded machine may add now and then."""
    assert len(got) == len(want)
    off = [abs((g - got[0]) - (w - want[0])) for g, w in zip(got, want)]
    assert statistics.median(off) < 3.0, off
    assert max(off) < TOLERANCE * 1000 * 2, off
    assert abs(got[0] - want[0]) < TOLERANCE * 1000, (got[0], want[0])


def _not_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False
