"""openai_chat: exact bytes, and the real openai SDK (sync and async) parsing them."""

from __future__ import annotations

import json

import openai
import pytest
from sdk_mock import (
    BASE_CREATED,
    FakeProvider,
    async_openai_client,
    boundary_offsets,
    encode,
    make_script,
    openai_client,
    random_splits,
)

from sselab.encoders import formats
from sselab.encoders.base import Frame, RequestInfo
from sselab.encoders.openai_chat import Chunks
from sselab.script.events import (
    Close,
    ErrorEvent,
    Finish,
    HttpError,
    Malformed,
    Reset,
    Stall,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    Usage,
)

FMT = "openai_chat"
MESSAGES = [{"role": "user", "content": "hi"}]
TEXTS = ["é", "日本", "🙂!", ' "q" \\ \n']
ARGS = ['{"city":"', 'Zürich 🙂"}']
SWEEP = make_script(*(TextDelta(t) for t in TEXTS), ToolCallStart(0, "call_1", "get_weather"),
                    *(ToolCallDelta(0, a) for a in ARGS), ToolCallEnd(0), Finish("tool_calls"))
NO_OBFUSCATION = {"include_obfuscation": False}


def req(stream_options: dict | None = None, **kw) -> RequestInfo:
    body = {"model": "gpt-4o-mini", "stream": True}
    if stream_options is not None:
        body["stream_options"] = stream_options
    return RequestInfo("req_exact", FMT, model="gpt-4o-mini", body=body, created=BASE_CREATED,
                       **kw)


def create(client: openai.OpenAI, **kw):
    return client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True,
                                          **kw)


def deltas(chunks) -> tuple[list[str], list[str]]:
    """Every non-empty content delta and every tool-argument fragment, in arrival order."""
    texts, args = [], []
    for chunk in chunks:
        for choice in chunk.choices:
            if choice.delta.content:
                texts.append(choice.delta.content)
            for call in choice.delta.tool_calls or []:
                if call.function and call.function.arguments:
                    args.append(call.function.arguments)
    return texts, args


# --- registry and request inspection ---------------------------------------------------------
def test_registered_with_its_route_and_content_type():
    fmt = formats()[FMT]
    assert fmt.routes == (("POST", "/v1/chat/completions"),)
    assert fmt.content_type.startswith("text/event-stream")


@pytest.mark.parametrize("body, model, stream", [
    ({"model": "gpt-4o", "stream": True}, "gpt-4o", True),
    ({"model": "gpt-4o"}, "gpt-4o", False),  # the API's default
    ({"model": None, "stream": None}, None, False),  # null reads as absent, as in the API
    ({}, None, False),
])
def test_inspect_reads_model_and_stream(body, model, stream):
    seen = formats()[FMT].inspect(body, {}, {})
    assert (seen.model, seen.stream) == (model, stream)


def test_inspect_refuses_wrong_types_as_the_api_does():
    from sselab.encoders._params import InvalidParam

    with pytest.raises(InvalidParam) as info:
        formats()[FMT].inspect({"model": 3, "stream": "yes"}, {}, {})
    assert (info.value.param, info.value.code) == ("model", "invalid_type")


# --- exact bytes -------------------------------------------------------------------------------
HEAD = ('{"id":"chatcmpl-OBD9xA3m669krmj1dhJAgtZC8HuGy","object":"chat.completion.chunk",'
        '"created":1700000000,"model":"gpt-4o-mini","service_tier":"default",'
        '"system_fingerprint":"fp_d6d1804bbe",')
OPEN = '"choices":[{"index":0,"delta":'
NOT_DONE = ',"logprobs":null,"finish_reason":null}]'
USAGE = ('"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7,'
         '"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},'
         '"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,'
         '"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}')


def test_exact_bytes_text_with_usage():
    script = make_script(TextDelta("Hi"), TextDelta(" é"), Usage(5, 2), Finish("stop"), seed=7)
    items = list(formats()[FMT].stream(script, req({"include_usage": True, **NO_OBFUSCATION})))
    expected = [
        (0.0, OPEN + '{"role":"assistant","content":"","refusal":null}' + NOT_DONE
         + ',"usage":null'),
        (0.0, OPEN + '{"content":"Hi"}' + NOT_DONE + ',"usage":null'),
        (0.01, OPEN + '{"content":" é"}' + NOT_DONE + ',"usage":null'),
        (0.03, OPEN + '{},"logprobs":null,"finish_reason":"stop"}],"usage":null'),
        (0.03, '"choices":[],' + USAGE),
    ]
    assert [(i.at, i.data) for i in items] == [
        *((at, f"data: {HEAD}{rest}}}\n\n".encode()) for at, rest in expected),
        (0.03, b"data: [DONE]\n\n")]


def test_exact_bytes_tool_call_first_carries_the_role_and_obfuscation_pads_to_8():
    script = make_script(ToolCallStart(0, "call_abc", "get_weather"),
                         ToolCallDelta(0, '{"city":'), ToolCallDelta(0, '"Zürich"}'),
                         ToolCallEnd(0), Finish("tool_calls"), seed=7)
    data = [i.data for i in formats()[FMT].stream(script, req())]
    call = ('{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_abc",'
            '"type":"function","function":{"name":"get_weather","arguments":""}}],'
            '"refusal":null}')
    assert data[0] == f'data: {HEAD}{OPEN}{call}{NOT_DONE},"obfuscation":"n"}}\n\n'.encode()
    fragment = r'{"tool_calls":[{"index":0,"function":{"arguments":"\"Zürich\"}"}}]}'
    assert data[2] == (f'data: {HEAD}{OPEN}{fragment}{NOT_DONE},"obfuscation":"anWqdtA"}}\n\n'
                       .encode())
    assert len('"Zürich"}' + "anWqdtA") % 8 == 0
    assert data[-1] == b"data: [DONE]\n\n"
    assert len(data) == 5  # ToolCallEnd has no frame of its own


def test_fast_path_is_byte_identical_to_the_generic_path():
    tricky = ["", "plain", 'q"uote', "back\\slash", "new\nline\r\t", "\x00\x1f\x7f",
              "\u2028\u2029", "é日本🙂", "</script>", "a" * 300]
    for options in ({}, {"include_usage": True}, NO_OBFUSCATION,
                    {"include_usage": True, **NO_OBFUSCATION}):
        ch = Chunks(make_script(), req(options))
        for text in tricky:
            obf = ch.pad(text)
            assert ch.text(text, obf) == ch.chunk({"content": text}, obfuscation=obf)
            for index in (0, 3):
                call = {"tool_calls": [{"index": index, "function": {"arguments": text}}]}
                assert ch.arguments(index, text, obf) == ch.chunk(call, obfuscation=obf)


def test_frames_are_due_at_their_events_and_control_events_pass_through_in_place():
    script = make_script(ThinkingDelta("hm"), TextDelta("a"), Stall(0.5), TextDelta("b"),
                         Close())
    script.terminate = False
    items = list(formats()[FMT].stream(script, req()))
    assert [type(i).__name__ for i in items] == ["Frame", "Frame", "Timed", "Frame", "Timed"]
    assert [i.at for i in items] == [0.01, 0.01, 0.02, 0.03, 0.04]
    assert isinstance(items[2].event, Stall) and isinstance(items[4].event, Close)
    assert b"hm" not in b"".join(i.data for i in items if isinstance(i, Frame))


# --- the real SDK parses it, however the bytes are cut ------------------------------------------
SHORT = make_script(TextDelta("é日本🙂"), Finish("stop"))


def test_every_two_piece_split_of_a_short_stream_sync():
    fake = FakeProvider(FMT, SHORT)
    client = openai_client(fake)
    body = encode(FMT, SHORT, req(NO_OBFUSCATION))
    assert len(body) < 1000
    for cut in range(1, len(body)):
        fake.splits = [cut]
        assert deltas(create(client, stream_options=NO_OBFUSCATION)) == (["é日本🙂"], []), cut


async def test_every_two_piece_split_of_a_short_stream_async():
    fake = FakeProvider(FMT, SHORT)
    client = async_openai_client(fake)
    for cut in range(1, len(encode(FMT, SHORT, req(NO_OBFUSCATION)))):
        fake.splits = [cut]
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options=NO_OBFUSCATION)
        assert deltas([c async for c in stream]) == (["é日本🙂"], []), cut


def test_boundary_splits_and_byte_at_a_time_sync():
    fake = FakeProvider(FMT, SWEEP)
    client = openai_client(fake)
    body = encode(FMT, SWEEP, req())
    for splits in [[c] for c in boundary_offsets(body)] + [list(range(1, len(body)))]:
        fake.splits = splits
        assert deltas(create(client)) == (TEXTS, ARGS), f"splits {splits[:3]}"


async def test_boundary_splits_and_byte_at_a_time_async():
    fake = FakeProvider(FMT, SWEEP)
    client = async_openai_client(fake)
    body = encode(FMT, SWEEP, req())
    for splits in [[c] for c in boundary_offsets(body)] + [list(range(1, len(body)))]:
        fake.splits = splits
        stream = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES,
                                                      stream=True)
        assert deltas([c async for c in stream]) == (TEXTS, ARGS), f"splits {splits[:3]}"


@pytest.mark.parametrize("seed", range(40))
async def test_random_multi_splits_sync_and_async(seed):
    body_len = len(encode(FMT, SWEEP, req()))
    fake = FakeProvider(FMT, SWEEP, splits=random_splits(body_len, seed, count=1 + seed % 12))
    assert deltas(create(openai_client(fake))) == (TEXTS, ARGS)
    stream = await async_openai_client(fake).chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True)
    assert deltas([c async for c in stream]) == (TEXTS, ARGS)


def test_stream_helper_accumulates_text_and_tool_call():
    fake = FakeProvider(FMT, SWEEP, splits=random_splits(2000, 1, 30))
    with openai_client(fake).chat.completions.stream(model="gpt-4o-mini",
                                                     messages=MESSAGES) as stream:
        events = list(stream)
        final = stream.get_final_completion()
    # the role chunk's empty content surfaces as an empty delta, as with the real API
    assert [e.delta for e in events if e.type == "content.delta"] == ["", *TEXTS]
    assert [e.arguments_delta for e in events if e.type == "tool_calls.function.arguments.delta"
            ] == ["", *ARGS]  # likewise the tool call's opening empty arguments
    message = final.choices[0].message
    assert message.content == "".join(TEXTS)
    assert message.tool_calls[0].function.arguments == "".join(ARGS)
    assert message.tool_calls[0].id == "call_1"
    assert final.choices[0].finish_reason == "tool_calls"


async def test_stream_helper_async():
    fake = FakeProvider(FMT, SWEEP)
    async with async_openai_client(fake).chat.completions.stream(model="gpt-4o-mini",
                                                                 messages=MESSAGES) as stream:
        final = await stream.get_final_completion()
    assert final.choices[0].message.content == "".join(TEXTS)


def test_usage_chunk_only_when_asked_for():
    script = make_script(TextDelta("a"), Usage(11, 1), Finish("stop"))
    fake = FakeProvider(FMT, script)
    chunks = list(create(openai_client(fake), stream_options={"include_usage": True}))
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 12
    assert all(c.usage is None for c in chunks[:-1])
    plain = list(create(openai_client(fake)))
    assert all(c.usage is None and c.choices for c in plain)
    assert all(b'"usage"' not in f for f in encode(FMT, script, req()).split(b"\n\n"))


def test_headers_carry_the_request_id():
    fake = FakeProvider(FMT, SWEEP, request_id="req_abc123")
    stream = create(openai_client(fake))
    assert stream.response.headers["x-request-id"] == "req_abc123"
    assert stream.response.headers["content-type"].startswith("text/event-stream")


def test_non_streaming_body_parses_into_typed_objects():
    fake = FakeProvider(FMT, make_script(TextDelta("Hé "), TextDelta("日本"),
                                         ToolCallStart(0, "call_9", "f"), ToolCallDelta(0, "{}"),
                                         Usage(4, 3), Finish("tool_calls")))
    done = openai_client(fake).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert isinstance(done, openai.types.chat.ChatCompletion)
    assert done.object == "chat.completion" and done.model == "gpt-4o-mini"
    assert done.choices[0].message.content == "Hé 日本"
    assert done.choices[0].message.tool_calls[0].function.arguments == "{}"
    assert done.choices[0].finish_reason == "tool_calls"
    assert (done.usage.prompt_tokens, done.usage.completion_tokens) == (4, 3)
    assert done._request_id == "req_test"


# --- faults: what the openai SDK does with each --------------------------------------------------
def fault_script(*tail, **kw):
    return make_script(TextDelta("before "), TextDelta("é"), *tail, **kw)


def test_mid_stream_error_raises_api_error_sync_and_after_the_text_before_it():
    fake = FakeProvider(FMT, fault_script(ErrorEvent("Overloaded", "overloaded"),
                                          TextDelta("never")))
    seen = []
    with pytest.raises(openai.APIError) as info:
        for chunk in create(openai_client(fake)):
            seen.append(chunk)
    assert type(info.value) is openai.APIError  # not an APIStatusError: the status was 200
    assert info.value.message == "Overloaded"
    assert info.value.body == {"message": "Overloaded", "type": "service_unavailable_error",
                               "param": None, "code": "server_is_overloaded"}
    assert deltas(seen)[0] == ["before ", "é"]
    with openai_client(fake).chat.completions.stream(model="m", messages=MESSAGES) as helper:
        with pytest.raises(openai.APIError):
            list(helper)
    body = encode(FMT, fault_script(ErrorEvent("x")), req())
    assert body.endswith(b'data: {"error":{"message":"x","type":"server_error","param":null,'
                         b'"code":null}}\n\n')  # and no [DONE]


async def test_mid_stream_error_raises_api_error_async():
    fake = FakeProvider(FMT, fault_script(ErrorEvent("Rate limited", "rate_limit")))
    stream = await async_openai_client(fake).chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True)
    with pytest.raises(openai.APIError) as info:
        async for _ in stream:
            pass
    assert info.value.code == "rate_limit_exceeded" and info.value.type == "requests"


async def test_malformed_frame_raises_json_decode_error_sync_and_async():
    fake = FakeProvider(FMT, fault_script(Malformed(), Finish("stop")))
    with pytest.raises(json.JSONDecodeError):
        list(create(openai_client(fake)))
    with openai_client(fake).chat.completions.stream(model="m", messages=MESSAGES) as helper:
        with pytest.raises(json.JSONDecodeError):
            list(helper)
    stream = await async_openai_client(fake).chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True)
    with pytest.raises(json.JSONDecodeError):
        async for _ in stream:
            pass


async def test_missing_done_is_silent_sync_async_and_helper():
    script = fault_script(Finish("stop"), terminate=False)
    assert not encode(FMT, script, req()).endswith(b"data: [DONE]\n\n")
    fake = FakeProvider(FMT, script)
    assert deltas(create(openai_client(fake)))[0] == ["before ", "é"]
    stream = await async_openai_client(fake).chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True)
    assert deltas([c async for c in stream])[0] == ["before ", "é"]
    with openai_client(fake).chat.completions.stream(model="m", messages=MESSAGES) as helper:
        assert helper.get_final_completion().choices[0].message.content == "before é"
    # even without a finish chunk: the truncation is invisible to the SDK
    cut = FakeProvider(FMT, fault_script(terminate=False))
    with openai_client(cut).chat.completions.stream(model="m", messages=MESSAGES) as helper:
        assert helper.get_final_completion().choices[0].finish_reason is None


@pytest.mark.parametrize("control", [Close(), Reset()])
async def test_transport_end_mid_body_raises_api_connection_error(control):
    fake = FakeProvider(FMT, fault_script(control, terminate=False))
    with pytest.raises(openai.APIConnectionError):
        list(create(openai_client(fake)))
    stream = await async_openai_client(fake).chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True)
    with pytest.raises(openai.APIConnectionError):
        async for _ in stream:
            pass


HTTP_ERRORS = [
    (400, "invalid_request", openai.BadRequestError, "invalid_request_error", None),
    (401, "authentication", openai.AuthenticationError, "invalid_request_error",
     "invalid_api_key"),
    (403, "permission", openai.PermissionDeniedError, "invalid_request_error", None),
    (404, "not_found", openai.NotFoundError, "invalid_request_error", "model_not_found"),
    (429, "rate_limit", openai.RateLimitError, "requests", "rate_limit_exceeded"),
    (500, "server_error", openai.InternalServerError, "server_error", None),
    (503, "unavailable", openai.InternalServerError, "service_unavailable_error",
     "server_is_overloaded"),
    (529, "overloaded", openai.InternalServerError, "service_unavailable_error",
     "server_is_overloaded"),
]


@pytest.mark.parametrize("status, kind, exc, type_, code", HTTP_ERRORS)
async def test_http_errors_raise_the_sdk_status_classes(status, kind, exc, type_, code):
    script = make_script(http_error=HttpError(status, f"failed {status}", kind))
    fake = FakeProvider(FMT, script)
    with pytest.raises(exc) as info:
        create(openai_client(fake))
    err = info.value
    assert (err.status_code, err.type, err.code) == (status, type_, code)
    assert err.body == {"message": f"failed {status}", "type": type_, "param": None,
                        "code": code}
    assert f"failed {status}" in err.message
    assert err.request_id == "req_test"
    with pytest.raises(exc):
        await async_openai_client(fake).chat.completions.create(model="m", messages=MESSAGES,
                                                                stream=True)


def test_rate_limit_headers():
    body, headers = formats()[FMT].error(HttpError(429, "slow down", "rate_limit", 2.5), req())
    assert body["error"]["code"] == "rate_limit_exceeded"
    assert headers["retry-after"] == "3" and headers["retry-after-ms"] == "2500"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-ratelimit-reset-requests"] == "2.5s"
    assert headers["x-request-id"] == "req_exact"
    _, plain = formats()[FMT].error(HttpError(500, "x", "server_error"), req())
    assert "retry-after" not in plain and "x-ratelimit-reset-requests" not in plain


def test_retry_after_is_honoured_by_the_sdk(monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(openai._base_client.time, "sleep", slept.append)
    fake = FakeProvider(FMT, [make_script(http_error=HttpError(429, "wait", "rate_limit", 0.25)),
                              SWEEP])
    client = openai.OpenAI(api_key="sk-test", base_url="http://fake/v1", max_retries=2,
                           http_client=fake.client())
    assert deltas(create(client)) == (TEXTS, ARGS)
    assert slept == [0.25] and len(fake.requests) == 2  # the server's delay, not the backoff
