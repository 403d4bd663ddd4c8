"""Anthropic Messages encoder: exact bytes, the hot path, and the real anthropic SDK (sync and
async, raw ``create(stream=True)`` and the ``messages.stream`` helper) reading sselab's bytes
split at every offset and at random, plus every fault's observed SDK behaviour."""

from __future__ import annotations

import json
import random

import anthropic
import httpx2
import pytest
from _live_server import LiveFormat
from sdk_mock import ESCAPE_CASES, FakeProvider, encode, make_script, random_splits

from sselab.encoders import formats
from sselab.encoders.anthropic import FORMAT, PING, message_id, tool_use_id
from sselab.encoders.base import Frame, RequestInfo
from sselab.encoders.sse_frame import sse_json
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

ASK = {"model": "claude-test", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
REQ = RequestInfo(request_id="req_test", format="anthropic", model="claude-test")

# a short stream with multi-byte UTF-8 everywhere: split at every offset below
TEXTS = ["Hé", "llo 日本", " 🎉\u2028ok\n"]
ARGS = ['{"city": "', "Zürich 🏔", '"}']
SHORT = make_script(*[TextDelta(t) for t in TEXTS], ToolCallStart(0, "call_1", "weather"),
                    *[ToolCallDelta(0, a) for a in ARGS], ToolCallEnd(0), Usage(7, 11),
                    Finish("tool_calls"))


def _sync(splits=None, script=SHORT, **kw):
    fake = FakeProvider("anthropic", script, splits=splits, http=httpx2)
    client = anthropic.Anthropic(api_key="x", base_url="http://sselab.test", max_retries=0,
                                 http_client=fake.client(), **kw)
    return fake, client


def _async(splits=None, script=SHORT):
    fake = FakeProvider("anthropic", script, splits=splits, http=httpx2)
    client = anthropic.AsyncAnthropic(api_key="x", base_url="http://sselab.test", max_retries=0,
                                      http_client=fake.async_client())
    return fake, client


def _deltas(events) -> tuple[list[str], list[str]]:
    texts, args = [], []
    for ev in events:
        if ev.type == "content_block_delta":
            if ev.delta.type == "text_delta":
                texts.append(ev.delta.text)
            elif ev.delta.type == "input_json_delta":
                args.append(ev.delta.partial_json)
    return texts, args


def _check_message(msg) -> None:
    assert [b.type for b in msg.content] == ["text", "tool_use"]
    assert msg.content[0].text == "".join(TEXTS)
    assert msg.content[1].id == "toolu_1" and msg.content[1].name == "weather"
    assert msg.content[1].input == {"city": "Zürich 🏔"}
    assert msg.stop_reason == "tool_use"
    assert (msg.usage.input_tokens, msg.usage.output_tokens) == (7, 11)


# --- bytes ---------------------------------------------------------------------------------
def test_registered_with_route_and_ping_keepalive():
    assert formats()["anthropic"] is FORMAT
    assert FORMAT.routes == (("POST", "/v1/messages"),)
    assert FORMAT.keepalive == b'event: ping\ndata: {"type":"ping"}\n\n' == PING


def test_exact_bytes_of_a_small_stream():
    script = make_script(TextDelta("Hi"), TextDelta(" é"), Usage(3, 2), Finish("stop"))
    mid = message_id(script, REQ)
    assert mid == "msg_01rJcHNGKLe74lKfX4NPQTIQ"  # seeded: a replay is byte-identical
    expected = (
        'event: message_start\ndata: {"type":"message_start","message":{"id":"' + mid + '",'
        '"type":"message","role":"assistant","model":"claude-test","content":[],'
        '"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,'
        '"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}}\n\n'
        'event: ping\ndata: {"type":"ping"}\n\n'
        'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
        '"content_block":{"type":"text","text":""}}\n\n'
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        '"delta":{"type":"text_delta","text":"Hi"}}\n\n'
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        '"delta":{"type":"text_delta","text":" é"}}\n\n'
        'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
        'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn",'
        '"stop_sequence":null},"usage":{"output_tokens":2}}\n\n'
        'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )
    assert encode("anthropic", script, REQ) == expected.encode()


@pytest.mark.parametrize("text", [*ESCAPE_CASES, "}}\n\ndata: x"])
def test_hot_path_is_byte_identical_to_the_generic_writer(text):
    script = make_script(ThinkingDelta(text), ThinkingDelta(text), TextDelta(text),
                         TextDelta(text), Finish("stop"))
    frames = [i for i in FORMAT.stream(script, REQ) if isinstance(i, Frame)]
    thinking = [f.data for f in frames if b'"thinking_delta"' in f.data]
    texts = [f.data for f in frames if b'"text_delta"' in f.data]
    for got, index, delta in ((thinking, 0, {"type": "thinking_delta", "thinking": text}),
                              (texts, 1, {"type": "text_delta", "text": text})):
        generic = sse_json({"type": "content_block_delta", "index": index, "delta": delta},
                           event="content_block_delta")
        assert got == [generic, generic]


def test_frame_times_and_control_events_pass_through_in_place():
    stall, close = Stall(1.5, keepalive=0.5), Close()
    script = Script("t", [Timed(0.2, TextDelta("a")), Timed(0.3, stall), Timed(1.8, TextDelta("b")),
                          Timed(1.9, close), Timed(2.0, Finish("stop"))])
    items = list(FORMAT.stream(script, REQ))
    assert [i.at for i in items[:2]] == [0.0, 0.0]  # message_start, ping
    kinds = [(i.at, i.event if isinstance(i, Timed) else json.loads(i.data.split(b"data: ")[1])
              ["type"]) for i in items[2:]]
    assert kinds == [(0.2, "content_block_start"), (0.2, "content_block_delta"), (0.3, stall),
                     (1.8, "content_block_delta"), (1.9, close), (2.0, "content_block_stop"),
                     (2.0, "message_delta"), (2.0, "message_stop")]
    assert all(i is t for i, t in zip([items[4], items[6]], [script.events[1], script.events[3]],
                                      strict=True))


def test_thinking_block_gets_a_signature_and_blocks_are_numbered_in_order():
    script = make_script(ThinkingDelta("Let me"), ThinkingDelta(" think."), TextDelta("Yes."),
                         Finish("length"))
    events = [json.loads(line[6:]) for line in encode("anthropic", script, REQ).split(b"\n")
              if line.startswith(b"data: ")]
    types = [(e["type"], e.get("index"), e.get("delta", {}).get("type")) for e in events]
    assert types[2:] == [
        ("content_block_start", 0, None), ("content_block_delta", 0, "thinking_delta"),
        ("content_block_delta", 0, "thinking_delta"), ("content_block_delta", 0, "signature_delta"),
        ("content_block_stop", 0, None), ("content_block_start", 1, None),
        ("content_block_delta", 1, "text_delta"), ("content_block_stop", 1, None),
        ("message_delta", None, None), ("message_stop", None, None)]
    assert events[-2]["delta"]["stop_reason"] == "max_tokens"


def test_tool_use_ids_are_reshaped_stably():
    assert tool_use_id("call_ab12") == "toolu_ab12"
    assert tool_use_id("toolu_x") == "toolu_x"
    assert tool_use_id("fc_9") == "toolu_fc_9"


def test_inspect_reads_model_and_stream_and_names_bad_fields():
    seen = FORMAT.inspect({"model": "claude-x", "stream": True}, {}, {})
    assert (seen.model, seen.stream) == ("claude-x", True)
    assert FORMAT.inspect({}, {}, {}).stream is False
    with pytest.raises(ValueError, match="^stream:"):
        FORMAT.inspect({"model": "m", "stream": "yes"}, {}, {})
    with pytest.raises(ValueError, match="^model:"):
        FORMAT.inspect({"model": 3}, {}, {})


def test_unknown_finish_reason_is_a_clear_error():
    with pytest.raises(ValueError, match=r"Finish\.reason: unknown 'weird'"):
        list(FORMAT.stream(make_script(Finish("weird")), REQ))


# --- the real SDK, split at every byte offset -----------------------------------------------
def test_sync_raw_create_every_two_piece_split():
    fake, client = _sync()
    length = len(encode("anthropic", SHORT, REQ))
    for cut in range(1, length):
        fake.splits = [cut]
        texts, args = _deltas(client.messages.create(**ASK, stream=True))
        assert texts == TEXTS and args == ARGS, cut


async def test_async_raw_create_every_two_piece_split():
    fake, client = _async()
    length = len(encode("anthropic", SHORT, REQ))
    for cut in range(1, length):
        fake.splits = [cut]
        texts, args = _deltas([ev async for ev in await client.messages.create(**ASK,
                                                                                 stream=True)])
        assert texts == TEXTS and args == ARGS, cut


def test_sync_stream_helper_random_multi_splits():
    fake, client = _sync()
    length = len(encode("anthropic", SHORT, REQ))
    for seed in range(40):
        fake.splits = random_splits(length, seed, count=random.Random(seed).randint(2, 60))
        with client.messages.stream(**ASK) as stream:
            assert list(stream.text_stream) == TEXTS, seed
            _check_message(stream.get_final_message())


async def test_async_stream_helper_random_multi_splits():
    fake, client = _async()
    length = len(encode("anthropic", SHORT, REQ))
    for seed in range(40):
        fake.splits = random_splits(length, seed, count=random.Random(seed).randint(2, 60))
        async with client.messages.stream(**ASK) as stream:
            assert [t async for t in stream.text_stream] == TEXTS, seed
            _check_message(await stream.get_final_message())


def test_thinking_reaches_the_helper_with_its_signature():
    script = make_script(ThinkingDelta("Hmm, "), ThinkingDelta("ça va"), TextDelta("Oui"),
                         Finish("stop"))
    _, client = _sync(script=script)
    with client.messages.stream(**ASK) as stream:
        kinds = [ev.type for ev in stream]
        msg = stream.get_final_message()
    assert kinds.count("thinking") == 2 and kinds.count("signature") == 1
    assert msg.content[0].thinking == "Hmm, ça va" and msg.content[0].signature.startswith("Eq")
    assert msg.content[1].text == "Oui"


def test_ping_keepalives_between_frames_are_skipped():
    frames = [i.data for i in FORMAT.stream(SHORT, REQ) if isinstance(i, Frame)]
    body = PING.join(frames) + PING
    transport = httpx2.MockTransport(lambda request: httpx2.Response(
        200, headers={"content-type": "text/event-stream"}, content=body))
    client = anthropic.Anthropic(api_key="x", base_url="http://sselab.test", max_retries=0,
                                 http_client=httpx2.Client(transport=transport))
    with client.messages.stream(**ASK) as stream:
        assert list(stream.text_stream) == TEXTS
        _check_message(stream.get_final_message())


# --- non-streaming and HTTP errors -----------------------------------------------------------
def test_complete_body_is_a_message_the_sdk_parses():
    fake, client = _sync()
    msg = client.messages.create(**ASK)
    _check_message(msg)
    assert msg.id == message_id(SHORT, fake.requests[0])
    assert msg._request_id == "req_test"


@pytest.mark.parametrize("status,kind,cls,etype", [
    (429, "rate_limit", anthropic.RateLimitError, "rate_limit_error"),
    (500, "server_error", anthropic.InternalServerError, "api_error"),
    (503, "unavailable", anthropic.ServiceUnavailableError, "api_error"),
    (529, "overloaded", anthropic.OverloadedError, "overloaded_error"),
    (400, "invalid_request", anthropic.BadRequestError, "invalid_request_error"),
])
async def test_http_errors_raise_the_sdks_own_classes(status, kind, cls, etype):
    script = make_script(http_error=HttpError(status, "nope", kind, retry_after=3.0))
    errors = []
    _, client = _sync(script=script)
    for call in (lambda: client.messages.create(**ASK, stream=True),
                 lambda: client.messages.stream(**ASK).__enter__()):
        with pytest.raises(cls) as info:
            call()
        errors.append(info.value)
    _, aclient = _async(script=script)
    with pytest.raises(cls) as info:
        await aclient.messages.create(**ASK, stream=True)
    errors.append(info.value)
    with pytest.raises(cls) as info:
        async with aclient.messages.stream(**ASK):
            pass
    errors.append(info.value)
    for err in errors:
        assert type(err) is cls and err.status_code == status
        assert err.type == etype and err.api_message == "nope"
        assert err.request_id.startswith("req_test")
        assert err.body["request_id"] == err.request_id
        assert err.response.headers["retry-after"] == "3"


# --- faults mid-stream -----------------------------------------------------------------------
def _consume_sync(client, helper: bool):
    if helper:
        with client.messages.stream(**ASK) as stream:
            return stream.get_final_message()
    return list(client.messages.create(**ASK, stream=True))


async def _consume_async(client, helper: bool):
    if helper:
        async with client.messages.stream(**ASK) as stream:
            return await stream.get_final_message()
    return [ev async for ev in await client.messages.create(**ASK, stream=True)]


FAULTS = {
    # mid-stream `event: error`: APIStatusError whose status is the stream's 200
    "error_event": (ErrorEvent("Overloaded", "overloaded"), anthropic.APIStatusError),
    "malformed": (Malformed(), json.JSONDecodeError),
    "close": (Close(), httpx2.RemoteProtocolError),  # FIN before the body ends
    "reset": (Reset(), httpx2.ReadError),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("helper", [False, True], ids=["raw", "helper"])
async def test_mid_stream_faults_raise(fault, helper):
    event, cls = FAULTS[fault]
    script = make_script(TextDelta("part"), event, TextDelta("never"), Finish("stop"))
    _, client = _sync(script=script)
    with pytest.raises(cls) as sync_info:
        _consume_sync(client, helper)
    _, aclient = _async(script=script)
    with pytest.raises(cls) as async_info:
        await _consume_async(aclient, helper)
    for err in (sync_info.value, async_info.value):
        assert type(err) is cls
        if fault == "error_event":
            assert err.status_code == 200 and err.type == "overloaded_error"
            assert err.body == {"type": "error", "error": {
                "details": None, "type": "overloaded_error", "message": "Overloaded"},
                "request_id": "req_test"}
            # the SDK's message is the whole event body; its request_id is the stream's header
            assert "'details': None" in err.message and err.request_id == "req_test"


def test_error_event_ends_the_stream():
    script = make_script(TextDelta("a"), ErrorEvent("boom"), TextDelta("b"), Finish("stop"))
    body = encode("anthropic", script, REQ)
    # the live shape: "details" first in the error object, the request id at the top level
    assert body.endswith(b'event: error\ndata: {"type":"error","error":{"details":null,'
                         b'"type":"api_error","message":"boom"},"request_id":"'
                         + REQ.request_id.encode() + b'"}\n\n')


@pytest.mark.parametrize("helper", [False, True], ids=["raw", "helper"])
async def test_missing_message_stop_is_silent(helper):
    script = make_script(TextDelta("all "), TextDelta("here"), Finish("stop"), terminate=False)
    assert not encode("anthropic", script, REQ).endswith(b'{"type":"message_stop"}\n\n')
    _, client = _sync(script=script)
    _, aclient = _async(script=script)
    for got in (_consume_sync(client, helper), await _consume_async(aclient, helper)):
        if helper:
            assert got.content[0].text == "all here" and got.stop_reason == "end_turn"
        else:
            assert [e.type for e in got][-1] == "message_delta"


def test_truncated_body_without_finish_is_silent_for_the_helper():
    script = make_script(TextDelta("half"), terminate=False)
    _, client = _sync(script=script)
    with client.messages.stream(**ASK) as stream:
        msg = stream.get_final_message()
    assert msg.content[0].text == "half" and msg.stop_reason is None


# --- over a real socket (127.0.0.1) -----------------------------------------------------------
@pytest.mark.parametrize("fault,cls", [("keepalive", None),
                                       ("close", httpx2.RemoteProtocolError),
                                       ("reset", httpx2.ReadError)])
async def test_async_client_over_a_live_socket(aiohttp_server, fault, cls):
    middle = {"keepalive": Stall(1.0, keepalive=0.5), "close": Close(), "reset": Reset()}[fault]
    script = make_script(TextDelta("part"), middle, TextDelta(" more"), Finish("stop"))
    live = LiveFormat("anthropic", script, write_sizes=[1, 9, 40])
    server = await aiohttp_server(live.app())
    client = anthropic.AsyncAnthropic(api_key="x", base_url=str(server.make_url("")),
                                      max_retries=0)
    seen: list[str] = []
    async with client.messages.stream(**ASK) as stream:
        if cls is None:
            seen = [t async for t in stream.text_stream]
        else:
            with pytest.raises(cls):
                async for text in stream.text_stream:
                    seen.append(text)
    await client.close()
    if fault == "reset":  # an RST makes the kernel drop bytes the client had not read yet
        assert seen in ([], ["part"])
    else:
        assert seen == (["part", " more"] if cls is None else ["part"])
    assert live.requests[0].path == "/v1/messages" and live.requests[0].model == "claude-test"
