"""Vercel AI SDK UI message stream encoder: exact bytes, the hot path, and the real ``ai`` npm
package (7.x) reading sselab's bytes: ``DefaultChatTransport`` validates every chunk with
``uiMessageChunkSchema`` and ``readUIMessageStream`` assembles the message, split at every byte
offset and at random; ``sendMessages`` against a live 127.0.0.1 server checks the route, the
request body and HTTP errors.

The node tests need node and ``npm install --prefix tests/encoders``; they skip otherwise.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from _live_server import LiveFormat
from sdk_mock import ESCAPE_CASES, encode, make_script, random_splits

from sselab.encoders import formats
from sselab.encoders.base import Frame, RequestInfo
from sselab.encoders.sse_frame import sse_json
from sselab.encoders.vercel_ui_stream import FORMAT, message_id
from sselab.script.events import (
    Close,
    ErrorEvent,
    Finish,
    HttpError,
    Malformed,
    Script,
    Stall,
    TextDelta,
    ThinkingDelta,
    Timed,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    Usage,
)

HERE = Path(__file__).parent
CHECK = HERE / "ui_stream_check.mjs"
NODE = shutil.which("node")
HAVE_AI = (HERE / "node_modules" / "ai" / "package.json").is_file()
needs_node = pytest.mark.skipif(
    NODE is None or not HAVE_AI,
    reason="needs node and the `ai` npm package: run `npm install --prefix tests/encoders`")

REQ = RequestInfo(request_id="req_test", format="vercel_ui_stream")
TEXTS = ["Hé", "llo 日本", " 🎉\u2028\n"]
ARGS = ['{"city": "Z', 'ürich 🏔"}']
FULL = make_script(ThinkingDelta("Let me "), ThinkingDelta("think…"),
                   *[TextDelta(t) for t in TEXTS], ToolCallStart(0, "call_1", "weather"),
                   *[ToolCallDelta(0, a) for a in ARGS], ToolCallEnd(0), Usage(3, 9),
                   Finish("tool_calls"))
SHORT = make_script(*[TextDelta(t) for t in TEXTS], Finish("stop"))


def _node(cases: list[tuple[str, bytes, list[int]]]) -> list[dict]:
    payload = json.dumps([{"name": n, "body": base64.b64encode(b).decode(), "splits": s}
                          for n, b, s in cases])
    out = subprocess.run([NODE, str(CHECK), "--batch"], input=payload.encode(), cwd=HERE,
                         capture_output=True, timeout=60, check=True)
    return json.loads(out.stdout)


def _text(message: dict) -> str:
    return "".join(p["text"] for p in message["parts"] if p["type"] == "text")


# --- bytes ----------------------------------------------------------------------------------
def test_registered_with_route_headers_and_keepalive():
    assert formats()["vercel_ui_stream"] is FORMAT
    assert FORMAT.routes == (("POST", "/ui/chat"),)
    assert FORMAT.headers(REQ) == {"x-vercel-ai-ui-message-stream": "v1",
                                   "x-accel-buffering": "no"}
    assert FORMAT.keepalive == b": keep-alive\n\n"


def test_exact_bytes_of_a_small_stream():
    script = make_script(TextDelta("Hi"), TextDelta(" é"), Usage(3, 2), Finish("stop"))
    mid = message_id(script, REQ)
    assert mid == "mADeudU46sts7dwX"
    assert encode("vercel_ui_stream", script, REQ) == (
        'data: {"type":"start","messageId":"' + mid + '"}\n\n'
        'data: {"type":"start-step"}\n\n'
        'data: {"type":"text-start","id":"text-0"}\n\n'
        'data: {"type":"text-delta","id":"text-0","delta":"Hi"}\n\n'
        'data: {"type":"text-delta","id":"text-0","delta":" é"}\n\n'
        'data: {"type":"text-end","id":"text-0"}\n\n'
        'data: {"type":"finish-step"}\n\n'
        'data: {"type":"finish","finishReason":"stop"}\n\n'
        'data: [DONE]\n\n').encode()


@pytest.mark.parametrize("text", [*ESCAPE_CASES, "}\n\ndata: x"])
def test_hot_path_is_byte_identical_to_the_generic_writer(text):
    script = make_script(ThinkingDelta(text), TextDelta(text), TextDelta(text))
    frames = [i.data for i in FORMAT.stream(script, REQ) if isinstance(i, Frame)]
    assert frames[3] == sse_json({"type": "reasoning-delta", "id": "reasoning-0", "delta": text})
    generic = sse_json({"type": "text-delta", "id": "text-0", "delta": text})
    assert frames[6] == frames[7] == generic


def test_frames_at_event_times_and_control_events_in_place():
    stall, close = Stall(None), Close()
    script = Script("t", [Timed(0.4, TextDelta("a")), Timed(0.5, stall), Timed(0.6, close)])
    items = list(FORMAT.stream(script, REQ))
    assert [i.at for i in items] == [0.0, 0.0, 0.4, 0.4, 0.5, 0.6]
    assert items[4] is script.events[1] and items[5] is script.events[2]


def test_inspect_reads_an_optional_model_and_always_streams():
    body = {"id": "chat-1", "messages": [{"id": "u1", "role": "user",
                                          "parts": [{"type": "text", "text": "hi"}]}],
            "trigger": "submit-message", "model": "gpt-test"}
    assert FORMAT.inspect(body, {}, {}).model == "gpt-test"
    assert FORMAT.inspect({}, {}, {}).stream is True
    with pytest.raises(ValueError, match="^model:"):
        FORMAT.inspect({"model": 1}, {}, {})
    with pytest.raises(ValueError, match="^messages:"):
        FORMAT.inspect({"messages": "hi"}, {}, {})


def test_error_ends_the_stream_and_terminate_false_drops_finish_and_done():
    errored = encode("vercel_ui_stream", make_script(TextDelta("a"), ErrorEvent("boom"),
                                                     TextDelta("b")), REQ)
    assert errored.endswith(b'data: {"type":"error","errorText":"boom"}\n\ndata: [DONE]\n\n')
    cut = encode("vercel_ui_stream", make_script(TextDelta("a"), Finish("stop"),
                                                 terminate=False), REQ)
    assert cut.endswith(b'data: {"type":"finish-step"}\n\n')
    assert b'"finish"' not in cut and b"[DONE]" not in cut


def test_complete_is_the_assembled_ui_message():
    msg = FORMAT.complete(FULL, REQ)
    assert [p["type"] for p in msg["parts"]] == ["step-start", "reasoning", "text", "tool-weather"]
    assert msg["parts"][3]["input"] == {"city": "Zürich 🏔"}


def test_http_error_body_and_retry_after():
    body, headers = FORMAT.error(HttpError(429, "slow down", "rate_limit", 2.5), REQ)
    assert body == {"error": {"message": "slow down", "type": "rate_limit"}}
    assert headers == {"retry-after": "2.5"}


# --- the real `ai` package ------------------------------------------------------------------
@needs_node
def test_ai_package_validates_and_assembles_every_split():
    full = encode("vercel_ui_stream", FULL, REQ)
    short = encode("vercel_ui_stream", SHORT, REQ)
    cases = [("full", full, [])]
    cases += [(f"cut{c}", short, [c]) for c in range(1, len(short))]
    cases += [(f"seed{s}", full, random_splits(len(full), s, random.Random(s).randint(2, 90)))
              for s in range(30)]
    results = _node(cases)
    assert len(results) == len(cases)
    first = results[0]
    assert first["errors"] == []
    assert [c["type"] for c in first["chunks"]] == [
        "start", "start-step", "reasoning-start", "reasoning-delta", "reasoning-delta",
        "reasoning-end", "text-start", "text-delta", "text-delta", "text-delta", "text-end",
        "tool-input-start", "tool-input-delta", "tool-input-delta", "tool-input-available",
        "finish-step", "finish"]
    parts = first["message"]["parts"]
    assert first["message"]["id"] == message_id(FULL, REQ)
    assert [p["type"] for p in parts] == ["step-start", "reasoning", "text", "tool-weather"]
    assert parts[1]["text"] == "Let me think…" and _text(first["message"]) == "".join(TEXTS)
    assert parts[3]["input"] == {"city": "Zürich 🏔"} and parts[3]["state"] == "input-available"
    for result in results[1:]:
        assert result["errors"] == [], result["name"]
        deltas = [c["delta"] for c in result["chunks"] if c["type"] == "text-delta"]
        assert deltas == TEXTS, result["name"]
        assert _text(result["message"]) == "".join(TEXTS), result["name"]


@needs_node
def test_ai_package_on_faults():
    frames = [i.data for i in FORMAT.stream(SHORT, REQ) if isinstance(i, Frame)]
    with_keepalives = FORMAT.keepalive.join(frames) + FORMAT.keepalive
    cases = [
        ("error", encode("vercel_ui_stream", make_script(TextDelta("part"),
                                                         ErrorEvent("overloaded!")), REQ), []),
        ("malformed", encode("vercel_ui_stream", make_script(TextDelta("part"), Malformed(),
                                                             TextDelta(" more")), REQ), []),
        ("no_finish", encode("vercel_ui_stream", make_script(TextDelta("part"), Finish("stop"),
                                                             terminate=False), REQ), []),
        ("truncated", encode("vercel_ui_stream", make_script(TextDelta("part"),
                                                             terminate=False), REQ), []),
        ("keepalive", with_keepalives, [5, 17]),
        # control: a chunk the schema rejects (no `delta`) must be caught by this harness
        ("invalid", frames[0] + b'data: {"type":"text-delta","id":"text-0"}\n\n', []),
    ]
    got = {r["name"]: r for r in _node(cases)}
    assert got["error"]["errors"] == ["overloaded!"]
    assert _text(got["error"]["message"]) == "part"
    # broken JSON: the transport rejects the chunk and the stream stops there
    assert len(got["malformed"]["errors"]) == 1
    assert "JSON" in got["malformed"]["errors"][0]
    assert _text(got["malformed"]["message"]) == "part"
    for name in ("no_finish", "truncated"):  # silent: nothing tells the client it was cut
        assert got[name]["errors"] == [] and _text(got[name]["message"]) == "part"
        assert "finish" not in [c["type"] for c in got[name]["chunks"]]
    assert got["keepalive"]["errors"] == [] and _text(got["keepalive"]["message"]) == "".join(TEXTS)
    assert len(got["invalid"]["errors"]) == 1 and "delta" in got["invalid"]["errors"][0]


async def _fetch(url: str) -> dict:
    proc = await asyncio.create_subprocess_exec(
        NODE, str(CHECK), "--fetch", url, cwd=HERE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return json.loads(out)


@needs_node
async def test_send_messages_against_a_live_server(aiohttp_server):
    live = LiveFormat("vercel_ui_stream", FULL, write_sizes=[3, 50, 1])
    server = await aiohttp_server(live.app())
    result = await _fetch(str(server.make_url("/ui/chat")))
    assert result["errors"] == [] and _text(result["message"]) == "".join(TEXTS)
    (req,) = live.requests
    assert req.model == "ui-test-model" and req.body["trigger"] == "submit-message"
    assert req.body["messages"][0]["parts"] == [{"type": "text", "text": "hi"}]


@needs_node
async def test_send_messages_http_error(aiohttp_server):
    script = make_script(http_error=HttpError(429, "slow down", "rate_limit", retry_after=2))
    server = await aiohttp_server(LiveFormat("vercel_ui_stream", script).app())
    result = await _fetch(str(server.make_url("/ui/chat")))
    err = result["request_error"]
    assert err["name"] == "AI_APICallError" and err["statusCode"] == 429
    assert json.loads(err["message"]) == {"error": {"message": "slow down",
                                                    "type": "rate_limit"}}
