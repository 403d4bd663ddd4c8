"""The recording proxy itself: its timeline (``/_sselab/requests``, as for simulated requests),
a client that goes away aborting the upstream request (measured), HTTPS upstreams (a local
server with a self-signed certificate), an unreachable upstream."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import httpx
import pytest

from sselab.record import RecordingProxyThread

from .helpers import CHAT, read, recording_of
from .upstreams import Answer, RawUpstream, openai_answer, self_signed, server_tls


def _slow(request: bytes) -> Answer:
    return Answer(pieces=[(0.05, b"data: {\"n\": %d}\n\n" % i) for i in range(100)])


def test_timeline_and_a_client_going_away_aborts_the_upstream(tmp_path: Path) -> None:
    with RawUpstream(_slow) as upstream, \
            RecordingProxyThread(upstream.url, out=tmp_path) as proxy:
        with httpx.Client(timeout=10) as client, client.stream(
                "POST", proxy.url("/v1/chat/completions"), json=CHAT) as resp:
            got = 0
            for _ in resp.iter_raw():
                got += 1
                if got == 3:
                    break
            left = time.monotonic()
        (path,) = proxy.wait_for(1)
        deadline = time.monotonic() + 5
        while not upstream.closed_by_peer and time.monotonic() < deadline:
            time.sleep(0.005)
        with urllib.request.urlopen(proxy.url("/_sselab/requests?writes=1"), timeout=5) as r:
            timeline = json.load(r)["requests"]
    assert upstream.closed_by_peer, "the upstream request was not aborted"
    noticed = upstream.closed_by_peer[0] - left
    assert noticed < 0.2, f"the upstream saw the abort {noticed:.3f} s after the client left"
    assert len(upstream.log[0]) < 10, "the upstream stopped writing"
    (entry,) = timeline
    assert entry["outcome"] == "client_disconnected" and entry["format"] == "openai_chat"
    assert entry["model"] == "gpt-4o-mini" and entry["status"] == 200
    assert entry["write_count"] >= 3 and entry["client_disconnected_at"] is not None
    assert all(w["bytes"] > 0 for w in entry["writes"])
    rec = recording_of(path)
    assert rec.response.end == "client_disconnected" and len(rec.response.pieces) >= 3


def test_timeline_of_a_completed_relay(tmp_path: Path) -> None:
    with RawUpstream(lambda request: openai_answer([0.01], [50])) as upstream, \
            RecordingProxyThread(upstream.url, out=tmp_path) as proxy:
        live = read(proxy.url("/v1/chat/completions"), CHAT)
        proxy.wait_for(1)
        (rec,) = proxy.recorder.requests
    # a chunked body is relayed with the upstream's own framing: the timeline counts the bytes
    # written to the socket, chunk sizes included
    framing = sum(len(b"%x\r\n\r\n" % len(w.data)) for w in upstream.log[0]) + 5
    assert rec.outcome == "completed" and rec.bytes_written == len(live.body) + framing
    # each piece, then the terminal chunk (in the last piece's read, or a read of its own)
    assert len(rec.writes) in (len(upstream.log[0]), len(upstream.log[0]) + 1)


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed(tmp_path)


def test_https_upstream_with_its_ca(tls_files: tuple[Path, Path], tmp_path: Path) -> None:
    cert, key = tls_files
    answer = openai_answer([0.01], [64])
    with RawUpstream(lambda request: answer, tls=server_tls(cert, key)) as upstream:
        assert upstream.url.startswith("https://")
        with RecordingProxyThread(upstream.url, out=tmp_path / "ok",
                                  upstream_ca=cert) as proxy:
            live = read(proxy.url("/v1/chat/completions"), CHAT)
            (path,) = proxy.wait_for(1)
        assert live.status == 200 and live.data == [p for _, p in answer.pieces]
        assert recording_of(path).upstream == upstream.url
        with RecordingProxyThread(upstream.url, out=tmp_path / "no") as proxy:
            refused = read(proxy.url("/v1/chat/completions"), CHAT)
        assert refused.status == 502 and b"certificate" in refused.body.lower()
        assert not (tmp_path / "no").exists(), "nothing is recorded of an unreachable upstream"
        with RecordingProxyThread(upstream.url, out=tmp_path / "insecure",
                                  insecure=True) as proxy:
            assert read(proxy.url("/v1/chat/completions"), CHAT).body == live.body


def test_unreachable_upstream_is_a_clear_502(tmp_path: Path) -> None:
    with RecordingProxyThread("http://127.0.0.1:9", out=tmp_path) as proxy:
        got = read(proxy.url("/v1/chat/completions"), CHAT)
    assert got.status == 502
    assert json.loads(got.body)["error"]["message"].startswith(
        "sselab record: cannot reach the upstream http://127.0.0.1:9")


def test_a_slow_reader_pauses_the_upstream_and_gets_every_byte(tmp_path: Path) -> None:
    block = bytes(range(256)) * 256  # 64 KiB, binary
    answer = Answer(pieces=[(0.0, block)] * 256)  # 16 MiB, more than the socket buffers
    with RawUpstream(lambda request: answer) as upstream, \
            RecordingProxyThread(upstream.url, out=tmp_path) as proxy:
        with httpx.Client(timeout=30) as client, client.stream(
                "POST", proxy.url("/v1/chat/completions"), json=CHAT) as resp:
            time.sleep(0.5)  # the client does not read yet: the relay must hold back
            got = b"".join(resp.iter_raw())
        (path,) = proxy.wait_for(1, timeout=60)
        (rec,) = proxy.recorder.requests
    assert got == block * 256
    assert rec.drain_wait > 0, "the relay waited for the slow reader"
    assert upstream.log[0][-1].at - upstream.log[0][0].at > 0.3, "and the upstream waited too"
    assert recording_of(path).response.body == block * 256
