"""A recording is a scenario file: listed by `sselab scenarios` with where and when it was
recorded, validated strictly (a mistake is ``file:line: field: message``), loaded by the
Python API; `sselab record` runs the proxy from the command line."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from sselab import ScenarioError, load_dir, load_file, load_text
from sselab.cli import main
from sselab.record import RecordingProxyThread
from sselab.record.cassette import Exchange, render

from .helpers import CHAT, read
from .upstreams import RawUpstream, openai_answer

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
name: hand-written
description: A recording written by hand.
recording:
  upstream: https://api.example.com
  recorded_at: '2026-01-01T00:00:00.000Z'
  format: openai_chat
  request:
    method: POST
    path: /v1/chat/completions
    body: {model: m, messages: [{role: user, content: hi}]}
  response:
    status: 200
    headers: ['content-type: text/event-stream']
    pieces:
    - {at_ms: 10, text: "data: {\\"choices\\":[{\\"delta\\":{\\"content\\":\\"Hi\\"}}]}\\n\\n"}
    - {at_ms: 20.5, b64: ZGF0YTogW0RPTkVdCgo=}
"""


def test_a_hand_written_recording_loads() -> None:
    scenario = load_text(GOOD, "good.yaml")
    rec = scenario.recording
    assert rec.response.body.endswith(b"data: [DONE]\n\n")
    assert [p.at_ms for p in rec.response.pieces] == [10.0, 20.5]
    assert rec.match == ["method", "path", "model", "conversation"]


BAD = """\
name: broken
recording:
  upstream: https://api.example.com
  recorded_at: '2026-01-01T00:00:00.000Z'
  format: openai_chatt
  speed: 0
  request:
    method: POST
    path: /v1/chat/completions
    hedaers: []
  response:
    status: 700
    headers: ['no colon here']
    pieces:
    - {at_ms: 10, text: "ok"}
    - {at_ms: 5, text: "back in time"}
    - {at_ms: 30, b64: "!!! not base64"}
    - {at_ms: 40, text: "both", b64: Ym90aA==}
    - {at_ms: -1, text: "negative"}
    end: exploded
"""


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_a_malformed_recording_gets_file_line_field_errors(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BAD)
    with pytest.raises(ScenarioError) as info:
        load_file(path)
    got = {str(e) for e in info.value.errors}
    want = {
        f"{path}:{_line(BAD, 'format:')}: recording.format: unknown wire format",
        f"{path}:{_line(BAD, 'speed:')}: recording.speed: must be more than 0",
        f"{path}:{_line(BAD, 'hedaers')}: recording.request.hedaers: unknown key 'hedaers'",
        f"{path}:{_line(BAD, 'status: 700')}: recording.response.status: must be an HTTP status",
        f"{path}:{_line(BAD, 'no colon')}: recording.response.headers[0]: expected 'Name: value'",
        f"{path}:{_line(BAD, 'back in time')}: recording.response.pieces[1].at_ms: goes back",
        f"{path}:{_line(BAD, 'not base64')}: recording.response.pieces[2].b64: not valid base64",
        f"{path}:{_line(BAD, 'both')}: recording.response.pieces[3]: give exactly one of text",
        f"{path}:{_line(BAD, 'negative')}: recording.response.pieces[4].at_ms: expected a number",
        f"{path}:{_line(BAD, 'exploded')}: recording.response.end: expected one of eof",
    }
    for prefix in want:
        assert any(g.startswith(prefix) for g in got), f"missing: {prefix}\n" + "\n".join(got)


def test_scenarios_check_reports_them_and_the_good_file_passes(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text(BAD)
    (tmp_path / "good.yaml").write_text(GOOD)
    result = CliRunner().invoke(main, ["scenarios", "check", str(tmp_path)])
    assert result.exit_code == 1
    assert f"ok   {tmp_path / 'good.yaml'}" in result.output
    assert re.search(rf"{re.escape(str(tmp_path / 'broken.yaml'))}:\d+: recording\.response"
                     r"\.pieces\[2\]\.b64: not valid base64", result.output)


def test_every_piece_survives_the_file(tmp_path: Path) -> None:
    """Text, cut characters, CR/LF, NEL, line separators, BOM, NUL, binary: same bytes back."""
    pieces = [b"data: caf\xc3", b"\xa9\r\n\r\n", "\u2028\u0085\ufeff\u00a0x".encode(),
              b"\x00\x01binary\xff", "emoji 🌍 and tab\t".encode(), b"", b" trailing  "]
    ex = Exchange("http://u", "POST", "/v1/chat/completions", "", [], b"{}", sent=0.0,
                  status=200, headers_at=0.0,
                  pieces=[(i / 100, p) for i, p in enumerate(pieces)], ended=1.0)
    path = tmp_path / "x.yaml"
    path.write_text(render(ex, "x"), encoding="utf-8")
    assert [p.data for p in load_file(path).recording.response.pieces] == pieces


def test_listed_by_sselab_scenarios_with_where_and_when(tmp_path: Path) -> None:
    with RawUpstream(lambda request: openai_answer([0.0], [4096])) as upstream, \
            RecordingProxyThread(upstream.url, out=tmp_path) as proxy:
        read(proxy.url("/v1/chat/completions"), CHAT)
        (path,) = proxy.wait_for(1)
    name = path.stem
    assert name in load_dir(tmp_path)
    result = CliRunner().invoke(main, ["scenarios", "--scenarios", str(tmp_path)])
    line = next(line for line in result.output.splitlines() if line.startswith(name))
    assert f"Recorded from {upstream.url} on 20" in line
    assert "POST /v1/chat/completions (gpt-4o-mini) -> 200" in line


def test_the_record_command(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with RawUpstream(lambda request: openai_answer([0.0], [4096])) as upstream:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sselab", "record", "--upstream", upstream.url, "--port",
             "0", "--out", str(tmp_path / "out")], stdout=subprocess.PIPE, text=True, env=env)
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            match = re.fullmatch(r"sselab recorder listening on (http://127\.0\.0\.1:\d+)\n",
                                 first)
            assert match, first
            got = read(match.group(1) + "/v1/chat/completions", CHAT)
            assert got.status == 200 and got.body.endswith(b"data: [DONE]\n\n")
            deadline = time.monotonic() + 10
            while not list((tmp_path / "out").glob("*.yaml")) and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0
    (path,) = (tmp_path / "out").glob("*.yaml")
    assert path.name == "openai_chat-gpt-4o-mini-001.yaml"
    assert "wrote" in out and "1 recordings written" in out


def test_a_bad_upstream_is_one_line() -> None:
    result = CliRunner().invoke(main, ["record", "--upstream", "api.openai.com", "--port", "0"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "sselab: --upstream: expected an http:// or https:// URL; got 'api.openai.com'"]
