"""Gemini encoder: exact bytes, the hot path, routes with ``model:action`` path segments, and the
real google-genai client (sync over httpx2, async over httpx2 and over aiohttp against a real
127.0.0.1 server) reading sselab's bytes split at every offset and at random, plus faults."""

from __future__ import annotations

import json
import random

import httpx2
import pytest
from _live_server import LiveFormat
from aiohttp import web
from google import genai
from google.genai import errors, types
from sdk_mock import ESCAPE_CASES, FakeProvider, encode, make_script, random_splits

from sselab.encoders import formats
from sselab.encoders.base import Frame, RequestInfo
from sselab.encoders.gemini import FORMAT, response_id, split_model_action
from sselab.encoders.sse_frame import sse
from sselab.script.events import (
    Close,
    ErrorEvent,
    Finish,
    HttpError,
    Malformed,
    Reset,
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

REQ = RequestInfo(request_id="req_test", format="gemini", model="gemini-test")
TEXTS = ["Hé", "日本 🎉\u2028\n"]
SHORT = make_script(*[TextDelta(t) for t in TEXTS], Usage(4, 6), Finish("stop"))
ARGS = ['{"city": "Z', 'ürich 🏔"}']
TOOLS = make_script(ThinkingDelta("Hmm…"), TextDelta("Hé"), TextDelta("llo"),
                    ToolCallStart(0, "call_1", "weather"), *[ToolCallDelta(0, a) for a in ARGS],
                    ToolCallEnd(0), Usage(4, 6), Finish("tool_calls"))


def _client(fake: FakeProvider, **options) -> genai.Client:
    return genai.Client(api_key="x", http_options=types.HttpOptions(
        base_url="http://sselab.test", httpx_client=fake.client(),
        httpx_async_client=fake.async_client(), **options))


def _texts(chunks) -> list[str]:
    return [part.text for c in chunks for part in c.candidates[0].content.parts
            if part.text and not part.thought]


# --- bytes and routes -----------------------------------------------------------------------
def test_registered_on_both_api_versions():
    assert formats()["gemini"] is FORMAT
    assert FORMAT.routes == (("POST", "/v1beta/models/{model_action}"),
                             ("POST", "/v1/models/{model_action}"))
    assert FORMAT.keepalive == b"\r\n"


def test_exact_bytes_of_a_small_stream():
    script = make_script(TextDelta("Hi"), TextDelta(" é"), Usage(3, 2), Finish("stop"))
    rid = response_id(script, REQ)
    assert rid == "S9S8YwKaD-32Lr8pZ4F-e4j"
    tail = ('"usageMetadata": {"promptTokenCount": 3,"totalTokenCount": 3},'
            '"modelVersion": "gemini-test","responseId": "' + rid + '"}\r\n\r\n')
    expected = (
        'data: {"candidates": [{"content": {"parts": [{"text": "Hi"}],"role": "model"},'
        '"index": 0}],' + tail +
        'data: {"candidates": [{"content": {"parts": [{"text": " é"}],"role": "model"},'
        '"index": 0}],' + tail +
        'data: {"candidates": [{"content": {"parts": [{"text": ""}],"role": "model"},'
        '"finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 3,'
        '"candidatesTokenCount": 2,"totalTokenCount": 5},"modelVersion": "gemini-test",'
        '"responseId": "' + rid + '"}\r\n\r\n')
    assert encode("gemini", script, REQ) == expected.encode()


@pytest.mark.parametrize("text", [*ESCAPE_CASES, "}]\r\n\r\ndata: x"])
def test_hot_path_is_byte_identical_to_the_generic_writer(text):
    script = make_script(TextDelta(text), ThinkingDelta("t"), TextDelta(text))
    frames = [i.data for i in FORMAT.stream(script, REQ) if isinstance(i, Frame)]
    rid = response_id(script, REQ)
    body = {"candidates": [{"content": {"parts": [{"text": text}], "role": "model"},
                            "index": 0}],
            "usageMetadata": {"promptTokenCount": 0, "totalTokenCount": 0},
            "modelVersion": "gemini-test", "responseId": rid}
    generic = sse(json.dumps(body, separators=(",", ": "), ensure_ascii=False))
    assert frames[0] == frames[2] == generic.replace(b"\n", b"\r\n")


def test_frames_at_event_times_and_control_events_in_place():
    stall, reset = Stall(2.0), Reset()
    script = Script("t", [Timed(0.5, TextDelta("a")), Timed(0.6, stall), Timed(2.6, TextDelta("b")),
                          Timed(2.7, reset)])
    items = list(FORMAT.stream(script, REQ))
    assert [i.at for i in items] == [0.5, 0.6, 2.6, 2.7]  # nothing before the first token
    assert items[1] is script.events[1] and items[3] is script.events[3]


def test_tool_call_is_sent_whole_at_its_end():
    frames = [(i.at, json.loads(i.data[6:])) for i in FORMAT.stream(TOOLS, REQ)
              if isinstance(i, Frame)]
    parts = [(at, c["candidates"][0]["content"]["parts"][0]) for at, c in frames]
    assert parts[0][1] == {"text": "Hmm…", "thought": True}
    assert parts[3] == (0.06, {"functionCall": {"name": "weather",
                                                "args": {"city": "Zürich 🏔"}}})
    assert frames[-1][1]["candidates"][0]["finishReason"] == "STOP"


def test_split_model_action_and_inspect():
    assert split_model_action("gemini-2.5-flash:streamGenerateContent") == (
        "gemini-2.5-flash", "streamGenerateContent")
    seen = FORMAT.inspect({}, {"model_action": "gemini-x:generateContent"}, {})
    assert (seen.model, seen.stream) == ("gemini-x", False)
    assert FORMAT.inspect({}, {"model_action": "g:streamGenerateContent"}, {"alt": "sse"}).stream
    for bad in ("gemini-x", ":generateContent", "gemini-x:countTokens"):
        with pytest.raises(ValueError, match="^path: "):
            FORMAT.inspect({}, {"model_action": bad}, {})


def test_bad_tool_arguments_name_the_field():
    script = make_script(ToolCallStart(0, "c", "f"), ToolCallDelta(0, "{oops"), ToolCallEnd(0))
    with pytest.raises(ValueError, match="^tool call 0 arguments: not valid JSON"):
        list(FORMAT.stream(script, REQ))


# --- the real client over httpx2 ------------------------------------------------------------
def test_sync_stream_every_two_piece_split():
    fake = FakeProvider("gemini", SHORT, http=httpx2)
    client = _client(fake)
    length = len(encode("gemini", SHORT, REQ))
    for cut in range(1, length):
        fake.splits = [cut]
        chunks = list(client.models.generate_content_stream(model="gemini-test", contents="hi"))
        assert _texts(chunks) == TEXTS, cut
        assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert fake.requests[0].path == "/v1/models/gemini-test:streamGenerateContent"
    assert fake.requests[0].query == {"alt": "sse"}


async def test_async_stream_every_two_piece_split():
    fake = FakeProvider("gemini", SHORT, http=httpx2)
    client = _client(fake)
    length = len(encode("gemini", SHORT, REQ))
    for cut in range(1, length):
        fake.splits = [cut]
        chunks = [c async for c in await client.aio.models.generate_content_stream(
            model="gemini-test", contents="hi")]
        assert _texts(chunks) == TEXTS, cut


async def test_async_stream_random_multi_splits_with_tools_and_thinking():
    fake = FakeProvider("gemini", TOOLS, http=httpx2)
    client = _client(fake, api_version="v1beta")
    length = len(encode("gemini", TOOLS, REQ))
    for seed in range(30):
        fake.splits = random_splits(length, seed, count=random.Random(seed).randint(2, 80))
        chunks = [c async for c in await client.aio.models.generate_content_stream(
            model="gemini-test", contents="hi")]
        assert _texts(chunks) == ["Hé", "llo"], seed
        calls = [fc for c in chunks for fc in (c.function_calls or [])]
        assert [(fc.name, fc.args) for fc in calls] == [("weather", {"city": "Zürich 🏔"})]
        thoughts = [p.text for c in chunks for p in c.candidates[0].content.parts if p.thought]
        assert thoughts == ["Hmm…"]
        assert chunks[-1].usage_metadata.candidates_token_count == 6
    assert fake.requests[0].path == "/v1beta/models/gemini-test:streamGenerateContent"


def test_complete_body_parses_as_a_response():
    fake = FakeProvider("gemini", TOOLS, http=httpx2)
    resp = _client(fake).models.generate_content(model="gemini-test", contents="hi")
    assert resp.text == "Héllo"
    assert resp.function_calls[0].args == {"city": "Zürich 🏔"}
    assert resp.candidates[0].finish_reason == types.FinishReason.STOP
    assert resp.usage_metadata.total_token_count == 10
    assert fake.requests[0].stream is False


# --- faults ---------------------------------------------------------------------------------
@pytest.mark.parametrize("status,kind,cls,gstatus", [
    (429, "rate_limit", errors.ClientError, "RESOURCE_EXHAUSTED"),
    (500, "server_error", errors.ServerError, "INTERNAL"),
    (503, "unavailable", errors.ServerError, "UNAVAILABLE"),
    (529, "overloaded", errors.ServerError, "UNAVAILABLE"),
    (400, "invalid_request", errors.ClientError, "INVALID_ARGUMENT"),
])
async def test_http_errors_raise_client_or_server_error(status, kind, cls, gstatus):
    fake = FakeProvider("gemini", make_script(http_error=HttpError(status, "nope", kind,
                                                                   retry_after=30)), http=httpx2)
    client = _client(fake)
    with pytest.raises(cls) as sync_info:
        list(client.models.generate_content_stream(model="g", contents="hi"))
    with pytest.raises(cls) as async_info:
        [c async for c in await client.aio.models.generate_content_stream(model="g",
                                                                         contents="hi")]
    for err in (sync_info.value, async_info.value):
        assert (err.code, err.status, err.message) == (status, gstatus, "nope")
        assert err.details["error"]["details"] == [
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "30s"}]


FAULTS = {
    "error_event": (ErrorEvent("The model is overloaded.", "overloaded"), errors.ServerError),
    "error_event_rate_limit": (ErrorEvent("quota", "rate_limit"), errors.ClientError),
    "malformed": (Malformed(), errors.UnknownApiResponseError),
    "close": (Close(), httpx2.RemoteProtocolError),
    "reset": (Reset(), httpx2.ReadError),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
async def test_mid_stream_faults_over_httpx2(fault):
    event, cls = FAULTS[fault]
    fake = FakeProvider("gemini", make_script(TextDelta("part"), event, TextDelta("more"),
                                              Finish("stop")), http=httpx2)
    client = _client(fake)
    seen: list[str] = []
    with pytest.raises(cls):
        for c in client.models.generate_content_stream(model="g", contents="hi"):
            seen.append(c.text)
    with pytest.raises(cls):
        async for c in await client.aio.models.generate_content_stream(model="g", contents="hi"):
            seen.append(c.text)
    assert seen == ["part", "part"]  # the chunk before the fault arrives first


async def test_missing_finish_chunk_is_silent():
    script = make_script(TextDelta("cut "), TextDelta("short"), Finish("stop"), terminate=False)
    fake = FakeProvider("gemini", script, http=httpx2)
    client = _client(fake)
    for chunks in (list(client.models.generate_content_stream(model="g", contents="hi")),
                   [c async for c in await client.aio.models.generate_content_stream(
                       model="g", contents="hi")]):
        assert _texts(chunks) == ["cut ", "short"]
        assert chunks[-1].candidates[0].finish_reason is None  # nothing says it was cut


def test_a_comment_keepalive_would_break_google_genai_but_an_empty_line_does_not():
    frames = [i.data for i in FORMAT.stream(SHORT, REQ) if isinstance(i, Frame)]

    def run(keepalive: bytes) -> list[str]:
        body = keepalive.join(frames)
        transport = httpx2.MockTransport(lambda request: httpx2.Response(200, content=body))
        client = genai.Client(api_key="x", http_options=types.HttpOptions(
            base_url="http://sselab.test", httpx_client=httpx2.Client(transport=transport)))
        return _texts(client.models.generate_content_stream(model="g", contents="hi"))

    assert run(FORMAT.keepalive) == TEXTS
    assert run(FORMAT.keepalive * 3) == TEXTS
    with pytest.raises(errors.UnknownApiResponseError, match="keep-alive"):
        run(b": keep-alive\r\n\r\n")


# --- the real client over aiohttp, against a real server ------------------------------------
@pytest.mark.parametrize("api_version", ["v1", "v1beta"])
async def test_aiohttp_path_against_a_live_server(aiohttp_server, api_version):
    live = LiveFormat("gemini", TOOLS, write_sizes=[1, 7, 64, 3])
    server = await aiohttp_server(live.app())
    client = genai.Client(api_key="x", http_options=types.HttpOptions(
        base_url=str(server.make_url("/")), api_version=api_version))
    try:
        chunks = [c async for c in await client.aio.models.generate_content_stream(
            model="gemini-test", contents="hi")]
        resp = await client.aio.models.generate_content(model="gemini-test", contents="hi")
    finally:
        await client.aio.aclose()
    assert _texts(chunks) == ["Hé", "llo"]
    assert chunks[-2].function_calls[0].args == {"city": "Zürich 🏔"}
    assert resp.text == "Héllo"
    assert [(r.path, r.model, r.stream) for r in live.requests] == [
        (f"/{api_version}/models/gemini-test:streamGenerateContent", "gemini-test", True),
        (f"/{api_version}/models/gemini-test:generateContent", "gemini-test", False)]


@pytest.mark.parametrize("fault,expected", [
    ("keepalive", None), ("error_event", errors.ServerError),
    ("malformed", errors.UnknownApiResponseError), ("close", "ClientPayloadError"),
    ("reset", "ClientPayloadError"), ("no_finish", None)])
async def test_aiohttp_path_faults(aiohttp_server, fault, expected):
    middle = {"keepalive": Stall(1.0, keepalive=0.5), "error_event": ErrorEvent("x", "overloaded"),
              "malformed": Malformed(), "close": Close(), "reset": Reset(),
              "no_finish": Stall(0.0)}[fault]
    script = make_script(TextDelta("part"), middle, TextDelta("more"), Finish("stop"),
                         terminate=fault != "no_finish")
    live = LiveFormat("gemini", script)
    server = await aiohttp_server(live.app())
    client = genai.Client(api_key="x", http_options=types.HttpOptions(
        base_url=str(server.make_url("/")),
        retry_options=types.HttpRetryOptions(attempts=1)))  # no implicit 1-10 s reconnect wait
    seen: list[str] = []
    try:
        if expected is None:
            async for c in await client.aio.models.generate_content_stream(model="g",
                                                                          contents="hi"):
                seen.append(c.text)
            assert seen[:2] == ["part", "more"]
        else:
            with pytest.raises(Exception) as info:  # noqa: B017 - the class is checked below
                async for c in await client.aio.models.generate_content_stream(model="g",
                                                                              contents="hi"):
                    seen.append(c.text)
            name = expected if isinstance(expected, str) else expected.__name__
            assert type(info.value).__name__ == name
            # an RST makes the kernel drop bytes the client had not read yet
            assert seen in ([], ["part"]) if fault == "reset" else seen == ["part"]
    finally:
        await client.aio.aclose()


@pytest.mark.parametrize("eol,ok", [(b"\n", True), (b"\r\n", True), (b"\r", False)])
async def test_aiohttp_path_line_endings(aiohttp_server, eol, ok):
    # google-genai's aiohttp reader splits lines at LF only: CR-only framing (legal SSE) arrives
    # as one "line" and fails to parse; its httpx2 reader handles all three
    body = encode("gemini", SHORT, REQ).replace(b"\r\n", b"\n").replace(b"\n", eol)

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="text/event-stream")

    app = web.Application()
    app.router.add_post("/v1/models/{model_action}", handler)
    server = await aiohttp_server(app)
    client = genai.Client(api_key="x", http_options=types.HttpOptions(
        base_url=str(server.make_url("/")), retry_options=types.HttpRetryOptions(attempts=1)))
    try:
        if ok:
            chunks = [c async for c in await client.aio.models.generate_content_stream(
                model="gemini-test", contents="hi")]
            assert _texts(chunks) == TEXTS
        else:
            with pytest.raises(errors.UnknownApiResponseError):
                [c async for c in await client.aio.models.generate_content_stream(
                    model="gemini-test", contents="hi")]
    finally:
        await client.aio.aclose()
    transport = httpx2.MockTransport(lambda request: httpx2.Response(200, content=body))
    sync = genai.Client(api_key="x", http_options=types.HttpOptions(
        base_url="http://sselab.test", httpx_client=httpx2.Client(transport=transport)))
    assert _texts(sync.models.generate_content_stream(model="gemini-test", contents="hi")) == TEXTS
