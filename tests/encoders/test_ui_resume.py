"""The real ``ai`` package resuming a UI message stream from a live simulator:
``DefaultChatTransport.reconnectToStream`` (``GET /ui/chat/{chatId}/stream``) gets the whole
active stream (a replay, as ``resumeStreamIsReplay`` says) and follows it to its end, and
``null`` when the chat has no active stream (204).

Needs node and ``npm install --prefix tests/encoders``; skipped otherwise.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from sselab import SimulatorThread, compile_scenario

HERE = Path(__file__).parent
CHECK = HERE / "ui_resume_check.mjs"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(
    NODE is None or not (HERE / "node_modules" / "ai" / "package.json").is_file(),
    reason="needs node and the `ai` npm package: run `npm install --prefix tests/encoders`")
SCENARIO = """
name: ui-resume
response: {text: "Resumed streams replay from the start and then follow the rest live."}
timing: {ttft_ms: 50, token_ms: 300}
faults:
  - {type: drop, at_token: 3, resumable: true}
"""
BODY = {"id": "chat-42", "model": "ui-resume", "trigger": "submit-message",
        "messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": "hi"}]}]}


def _reconnect(sim: SimulatorThread, chat_id: str) -> dict:
    out = subprocess.run([NODE, str(CHECK), sim.url("/ui/chat"), chat_id], cwd=HERE,
                         capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)


def test_reconnect_to_stream_gets_the_rest_and_null_when_none() -> None:
    with SimulatorThread() as sim:
        sim.add_scenario(SCENARIO)
        assert _reconnect(sim, "chat-42") == {"resumed": False, "replay": True}
        with pytest.raises(httpx.TransportError), httpx.stream(
                "POST", sim.url("/ui/chat"), json=BODY) as r:
            for _ in r.iter_raw():  # the drop breaks this connection after 3 tokens
                pass
        got = _reconnect(sim, "chat-42")  # while the answer is still being generated
        assert got["resumed"] is True and got["errors"] == []
        parts = [p for p in got["message"]["parts"] if p["type"] == "text"]
        assert [p["text"] for p in parts] == [compile_scenario(sim.scenarios["ui-resume"]).text]
        assert got["chunks"][0]["type"] == "start" and got["chunks"][-1]["type"] == "finish"
        first, resumed = sim.requests[1], sim.requests[2]
        assert first.outcome == "fault_reset" and resumed.resumes == first.id
        assert 0 < resumed.replayed_events < len(got["chunks"])  # replayed, then live
        assert _reconnect(sim, "chat-42")["resumed"] is False  # finished: nothing active
