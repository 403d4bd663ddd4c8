"""openai_responses: exact bytes, and the real openai SDK (sync and async) parsing them."""

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
from sselab.encoders.openai_chat import ERROR_TYPES
from sselab.encoders.openai_responses import Events
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

FMT = "openai_responses"
THINK = ["pensé ", "🙂"]
TEXTS = ["é", "日本", "🙂!", ' "q" \\ \n']
ARGS = ['{"city":"', 'Zürich 🙂"}']
SWEEP = make_script(*(ThinkingDelta(t) for t in THINK), *(TextDelta(t) for t in TEXTS),
                    ToolCallStart(0, "call_1", "get_weather"),
                    *(ToolCallDelta(0, a) for a in ARGS), ToolCallEnd(0), Usage(9, 8),
                    Finish("tool_calls"))
EXPECTED = (THINK, TEXTS, ARGS)
NO_OBFUSCATION = {"include_obfuscation": False}
DELTA_TYPES = ("response.reasoning_summary_text.delta", "response.output_text.delta",
               "response.function_call_arguments.delta")


def req(stream_options: dict | None = None, **body) -> RequestInfo:
    body = {"model": "gpt-4o-mini", "stream": True, **body}
    if stream_options is not None:
        body["stream_options"] = stream_options
    return RequestInfo("req_exact", FMT, model="gpt-4o-mini", body=body, created=BASE_CREATED)


def create(client: openai.OpenAI, **kw):
    return client.responses.create(model="gpt-4o-mini", input="hi", stream=True, **kw)


async def acreate(client: openai.AsyncOpenAI, **kw) -> list:
    return [e async for e in await client.responses.create(model="gpt-4o-mini", input="hi",
                                                           stream=True, **kw)]


def deltas(events) -> tuple[list[str], ...]:
    """Reasoning, text and argument deltas, each in arrival order."""
    by_type = {t: [] for t in DELTA_TYPES}
    for event in events:
        if event.type in by_type:
            by_type[event.type].append(event.delta)
    return tuple(by_type[t] for t in DELTA_TYPES)


def frames(script, request=None) -> list[tuple[str, dict]]:
    out = []
    for item in formats()[FMT].stream(script, request or req()):
        if isinstance(item, Frame):
            head, data = item.data.decode().split("\n", 1)
            out.append((head.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return out


# --- registry, exact bytes, invariants -----------------------------------------------------------
def test_registered_with_its_route():
    fmt = formats()[FMT]
    assert fmt.routes == (("POST", "/v1/responses"),)
    seen = fmt.inspect({"model": "gpt-5", "input": "x"}, {}, {})
    assert (seen.model, seen.stream) == ("gpt-5", False)


RESP_ID = "resp_adad62c794d6ade33687b947e246d54323f44470e1405c0451"
MSG_ID = "msg_adad62c794d6ade33687b9476c76477659614d4d3f7ef68688"
PART = '{"type":"output_text","annotations":[],"logprobs":[],"text":"%s"}'
DONE_ITEM = (f'{{"id":"{MSG_ID}","type":"message","status":"completed",'
             f'"content":[{PART % "Hi é"}],"role":"assistant"}}')
USAGE = ('{"input_tokens":5,"input_tokens_details":{"cache_write_tokens":0,"cached_tokens":0},'
         '"output_tokens":2,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":7}')


def response(status: str, tier: str, completed_at: str, output: str, usage: str) -> str:
    return (
        f'{{"id":"{RESP_ID}","object":"response","created_at":1700000000,"status":"{status}",'
        f'"background":false,"completed_at":{completed_at},"error":null,'
        '"frequency_penalty":0.0,"incomplete_details":null,"instructions":null,'
        '"max_output_tokens":null,"max_tool_calls":null,"model":"gpt-4o-mini",'
        f'"output":{output},"parallel_tool_calls":true,"presence_penalty":0.0,'
        '"previous_response_id":null,"prompt_cache_key":null,"prompt_cache_retention":null,'
        '"reasoning":{"effort":null,"summary":null},"safety_identifier":null,'
        f'"service_tier":"{tier}","store":true,"temperature":1.0,'
        '"text":{"format":{"type":"text"},"verbosity":"medium"},"tool_choice":"auto",'
        '"tools":[],"top_logprobs":0,"top_p":1.0,"truncation":"disabled",'
        f'"usage":{usage},"user":null,"metadata":{{}}}}')


def test_exact_bytes_text_stream():
    script = make_script(TextDelta("Hi"), TextDelta(" é"), Usage(5, 2), Finish("stop"), seed=7)
    items = list(formats()[FMT].stream(script, req(NO_OBFUSCATION)))
    at_msg = f'"item_id":"{MSG_ID}"'
    started = response("in_progress", "auto", "null", "[]", "null")
    expected = [
        (0.0, "response.created", f'"response":{started},"sequence_number":0'),
        (0.0, "response.in_progress", f'"response":{started},"sequence_number":1'),
        (0.0, "response.output_item.added",
         f'"item":{{"id":"{MSG_ID}","type":"message","status":"in_progress","content":[],'
         '"role":"assistant"},"output_index":0,"sequence_number":2'),
        (0.0, "response.content_part.added", f'"content_index":0,{at_msg},"output_index":0,'
         f'"part":{PART % ""},"sequence_number":3'),
        (0.0, "response.output_text.delta", f'"content_index":0,"delta":"Hi",{at_msg},'
         '"logprobs":[],"output_index":0,"sequence_number":4'),
        (0.01, "response.output_text.delta", f'"content_index":0,"delta":" é",{at_msg},'
         '"logprobs":[],"output_index":0,"sequence_number":5'),
        (0.03, "response.output_text.done", f'"content_index":0,{at_msg},"logprobs":[],'
         '"output_index":0,"sequence_number":6,"text":"Hi é"'),
        (0.03, "response.content_part.done", f'"content_index":0,{at_msg},"output_index":0,'
         f'"part":{PART % "Hi é"},"sequence_number":7'),
        (0.03, "response.output_item.done",
         f'"item":{DONE_ITEM},"output_index":0,"sequence_number":8'),
        (0.03, "response.completed", '"response":' + response(
            "completed", "default", "1700000000", f"[{DONE_ITEM}]", USAGE)
         + ',"sequence_number":9'),
    ]
    assert [(i.at, i.data) for i in items] == [
        (at, f'event: {name}\ndata: {{"type":"{name}",{rest}}}\n\n'.encode())
        for at, name, rest in expected]


def test_event_lines_match_types_and_sequence_numbers_count_from_zero():
    got = frames(SWEEP)
    assert all(name == data["type"] for name, data in got)
    assert [data["sequence_number"] for _, data in got] == list(range(len(got)))
    assert [n for n, _ in got].count("response.output_item.added") == 3  # reasoning, text, call
    assert got[-1][0] == "response.completed"
    assert b"[DONE]" not in encode(FMT, SWEEP, req())


def test_fast_path_is_byte_identical_to_the_generic_path_and_pads_to_16():
    tricky = ["", "plain", 'q"uote', "back\\slash", "new\nline\r\t", "\x00\x1f\x7f",
              "\u2028\u2029", "é日本🙂", "a" * 40]
    fields = {"message": {"content_index": 0, "logprobs": []}, "function_call": {},
              "reasoning": {"summary_index": 0}}
    for options in ({}, NO_OBFUSCATION):
        ev = Events(make_script(), req(options))
        for kind, type_ in zip(fields, (DELTA_TYPES[1], DELTA_TYPES[2], DELTA_TYPES[0]),
                               strict=True):
            item, _ = ev.open(kind, 0.0, 2)
            for text in tricky:
                obf = ev.pad(text)
                if obf is not None:
                    assert (len(text) + len(obf)) % 16 == 0
                fast = ev.delta(item, text, obf)
                ev.seq -= 1
                extra = {} if obf is None else {"obfuscation": obf}
                assert fast == ev.event(type_, delta=text, item_id=item.id, output_index=2,
                                        **fields[kind], **extra)


def test_lifecycle_at_zero_items_at_their_events_and_control_events_in_place():
    script = make_script(Stall(0.2), TextDelta("a"), ToolCallStart(0, "call_1", "f"),
                         ToolCallDelta(0, "{}"), Close(), terminate=False)
    items = list(formats()[FMT].stream(script, req()))
    timeline = [(i.at, i.data.split(b"\n")[0].decode()[7:]) if isinstance(i, Frame)
                else (i.at, type(i.event).__name__) for i in items]
    assert timeline == [
        (0.0, "response.created"), (0.0, "response.in_progress"), (0.0, "Stall"),
        (0.01, "response.output_item.added"), (0.01, "response.content_part.added"),
        (0.01, "response.output_text.delta"), (0.02, "response.output_text.done"),
        (0.02, "response.content_part.done"), (0.02, "response.output_item.done"),
        (0.02, "response.output_item.added"), (0.03, "response.function_call_arguments.delta"),
        (0.04, "Close")]


# --- the real SDK parses it, however the bytes are cut ------------------------------------------
def frame_span(body: bytes, name: bytes) -> range:
    """Offsets from just before the first ``name`` event to just after it."""
    start = body.index(b"event: " + name)
    return range(start - 2, body.index(b"\n\n", start) + 3)


def test_every_two_piece_split_through_the_delta_frames_sync():
    script = make_script(TextDelta("é日本🙂"), ToolCallStart(0, "call_1", "f"),
                         ToolCallDelta(0, '{"k":"ü"}'), ToolCallEnd(0), Finish("tool_calls"))
    fake = FakeProvider(FMT, script)
    client = openai_client(fake)
    body = encode(FMT, script, req(NO_OBFUSCATION))
    cuts = [*frame_span(body, b"response.output_text.delta"),
            *frame_span(body, b"response.function_call_arguments.delta")]
    assert len(cuts) > 400
    for cut in cuts:
        fake.splits = [cut]
        got = deltas(create(client, stream_options=NO_OBFUSCATION))
        assert got == ([], ["é日本🙂"], ['{"k":"ü"}']), cut


async def test_every_two_piece_split_through_a_text_delta_async():
    script = make_script(TextDelta("é日本🙂"), Finish("stop"))
    fake = FakeProvider(FMT, script)
    client = async_openai_client(fake)
    body = encode(FMT, script, req(NO_OBFUSCATION))
    for cut in frame_span(body, b"response.output_text.delta"):
        fake.splits = [cut]
        got = deltas(await acreate(client, stream_options=NO_OBFUSCATION))
        assert got == ([], ["é日本🙂"], []), cut


def content_boundaries(body: bytes) -> list[int]:
    """Line and UTF-8 boundaries in and around the delta frames (the frames between them are
    covered by the byte-at-a-time and random splits)."""
    spans, pos = [], 0
    for frame in body.split(b"\n\n")[:-1]:
        if frame.split(b"\n", 1)[0].endswith(b".delta"):
            spans.append(range(pos - 2, pos + len(frame) + 3))
        pos += len(frame) + 2
    return [c for c in boundary_offsets(body, radius=1) if any(c in span for span in spans)]


def test_boundary_splits_and_byte_at_a_time_sync():
    fake = FakeProvider(FMT, SWEEP)
    client = openai_client(fake)
    body = encode(FMT, SWEEP, req())
    for splits in [[c] for c in content_boundaries(body)] + [list(range(1, len(body)))]:
        fake.splits = splits
        assert deltas(create(client)) == EXPECTED, f"splits {splits[:3]}"
    assert len(content_boundaries(body)) > 100


async def test_boundary_splits_and_byte_at_a_time_async():
    fake = FakeProvider(FMT, SWEEP)
    client = async_openai_client(fake)
    body = encode(FMT, SWEEP, req())
    for splits in [[c] for c in content_boundaries(body)] + [list(range(1, len(body)))]:
        fake.splits = splits
        assert deltas(await acreate(client)) == EXPECTED, f"splits {splits[:3]}"


@pytest.mark.parametrize("seed", range(30))
async def test_random_multi_splits_sync_and_async(seed):
    body_len = len(encode(FMT, SWEEP, req()))
    fake = FakeProvider(FMT, SWEEP, splits=random_splits(body_len, seed, count=1 + seed % 20))
    assert deltas(create(openai_client(fake))) == EXPECTED
    assert deltas(await acreate(async_openai_client(fake))) == EXPECTED


def test_stream_helper_builds_the_final_response_sync():
    fake = FakeProvider(FMT, SWEEP, splits=random_splits(6000, 3, 40))
    with openai_client(fake).responses.stream(model="gpt-4o-mini", input="hi") as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert deltas(events) == EXPECTED
    snapshots = [e.snapshot for e in events if e.type == "response.output_text.delta"]
    assert snapshots[-1] == "".join(TEXTS)
    assert final.output_text == "".join(TEXTS)
    reasoning, message, call = final.output
    assert reasoning.summary[0].text == "".join(THINK)
    assert (call.call_id, call.name, call.arguments) == ("call_1", "get_weather", "".join(ARGS))
    assert (final.usage.input_tokens, final.usage.output_tokens) == (9, 8)


async def test_stream_helper_builds_the_final_response_async():
    fake = FakeProvider(FMT, SWEEP)
    client = async_openai_client(fake)
    async with client.responses.stream(model="gpt-4o-mini", input="hi") as stream:
        final = await stream.get_final_response()
    assert final.output_text == "".join(TEXTS) and final.status == "completed"


def test_non_streaming_body_parses_into_typed_objects():
    done = openai_client(FakeProvider(FMT, SWEEP)).responses.create(model="gpt-4o-mini",
                                                                     input="hi")
    assert isinstance(done, openai.types.responses.Response)
    assert done.status == "completed" and done.output_text == "".join(TEXTS)
    assert [o.type for o in done.output] == ["reasoning", "message", "function_call"]
    assert done.output[2].arguments == "".join(ARGS)
    assert done.usage.total_tokens == 17 and done._request_id == "req_test"


def test_request_parameters_are_echoed():
    body = frames(SWEEP, req(instructions="Be brief", temperature=0.2,
                             tools=[{"type": "function", "name": "get_weather"}]))[0][1]
    resp = body["response"]
    assert (resp["instructions"], resp["temperature"]) == ("Be brief", 0.2)
    assert resp["tools"] == [{"type": "function", "name": "get_weather"}]


# --- faults: what the openai SDK does with each --------------------------------------------------
def fault_script(*tail, **kw):
    return make_script(TextDelta("before "), TextDelta("é"), *tail, **kw)


async def test_mid_stream_error_is_the_live_nested_event_and_the_sdk_raises():
    script = fault_script(ErrorEvent("Overloaded", "overloaded"), TextDelta("never"))
    names = [n for n, _ in frames(script)]
    assert names[-2:] == ["error", "response.failed"]
    body = encode(FMT, script, req())
    seq = frames(script)[-2][1]["sequence_number"]
    # byte-exact: the shape captured from the live API (openai-dotnet#881, vercel/ai#20022)
    assert (b'event: error\ndata: {"type":"error","error":{"type":"service_unavailable_error",'
            b'"code":"server_is_overloaded","message":"Overloaded","param":null},'
            b'"sequence_number":%d}\n\n' % seq) in body
    failed = frames(script)[-1][1]
    assert failed["response"]["status"] == "failed"
    assert failed["response"]["error"] == {"code": "server_error", "message": "Overloaded"}
    fake = FakeProvider(FMT, script)
    with pytest.raises(openai.APIError) as sync_info:
        list(create(openai_client(fake)))
    with pytest.raises(openai.APIError) as async_info:
        await acreate(async_openai_client(fake))
    with pytest.raises(openai.APIError) as helper_info:
        with openai_client(fake).responses.stream(model="m", input="hi") as stream:
            list(stream)
    for err in (sync_info.value, async_info.value, helper_info.value):
        assert type(err) is openai.APIError and err.message == "Overloaded"
        assert err.code == "server_is_overloaded" and err.type == "service_unavailable_error"


@pytest.mark.parametrize("kind", sorted(ERROR_TYPES))
def test_every_error_kind_has_its_error_type(kind):
    error, failed = (d for _, d in frames(fault_script(ErrorEvent("slow", kind)))[-2:])
    type_, code = ERROR_TYPES[kind]
    assert error["error"] == {"type": type_, "code": code or type_, "message": "slow",
                              "param": None}
    assert set(error) == {"type", "error", "sequence_number"}
    assert failed["type"] == "response.failed"
    with pytest.raises(openai.APIError, match="slow"):
        list(create(openai_client(FakeProvider(FMT, fault_script(ErrorEvent("slow", kind))))))


def test_rate_limit_mid_stream_codes():
    error, failed = (d for _, d in frames(fault_script(ErrorEvent("slow", "rate_limit")))[-2:])
    assert error["error"]["code"] == failed["response"]["error"]["code"] == "rate_limit_exceeded"


async def test_malformed_frame_raises_json_decode_error_sync_and_async():
    fake = FakeProvider(FMT, fault_script(Malformed(), Finish("stop")))
    with pytest.raises(json.JSONDecodeError):
        list(create(openai_client(fake)))
    with pytest.raises(json.JSONDecodeError):
        await acreate(async_openai_client(fake))


async def test_missing_completed_is_silent_for_the_raw_stream_but_not_the_helper():
    script = fault_script(Finish("stop"), terminate=False)
    assert [n for n, _ in frames(script)][-1] == "response.output_item.done"
    fake = FakeProvider(FMT, script)
    assert deltas(create(openai_client(fake)))[1] == ["before ", "é"]
    assert deltas(await acreate(async_openai_client(fake)))[1] == ["before ", "é"]
    with openai_client(fake).responses.stream(model="m", input="hi") as stream:
        with pytest.raises(RuntimeError, match="response.completed"):
            stream.get_final_response()


def test_length_finish_ends_with_response_incomplete():
    script = fault_script(Finish("length"))
    last = frames(script)[-1][1]
    assert last["type"] == "response.incomplete"
    assert last["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert last["response"]["output"][0]["status"] == "incomplete"
    fake = FakeProvider(FMT, script)
    assert type(list(create(openai_client(fake)))[-1]).__name__ == "ResponseIncompleteEvent"
    with openai_client(fake).responses.stream(model="m", input="hi") as stream:
        with pytest.raises(RuntimeError, match="response.completed"):
            stream.get_final_response()
    done = openai_client(fake).responses.create(model="m", input="hi")
    assert done.status == "incomplete" and done.incomplete_details.reason == "max_output_tokens"


@pytest.mark.parametrize("control", [Close(), Reset()])
async def test_transport_end_mid_body_raises_api_connection_error(control):
    fake = FakeProvider(FMT, fault_script(control, terminate=False))
    with pytest.raises(openai.APIConnectionError):
        list(create(openai_client(fake)))
    with pytest.raises(openai.APIConnectionError):
        await acreate(async_openai_client(fake))


@pytest.mark.parametrize("status, kind, exc", [
    (400, "invalid_request", openai.BadRequestError),
    (404, "not_found", openai.NotFoundError),
    (429, "rate_limit", openai.RateLimitError),
    (500, "server_error", openai.InternalServerError),
    (503, "unavailable", openai.InternalServerError),
    (529, "overloaded", openai.InternalServerError),
])
async def test_http_errors_raise_the_sdk_status_classes(status, kind, exc):
    fake = FakeProvider(FMT, make_script(http_error=HttpError(status, "nope", kind, 1.0)))
    with pytest.raises(exc) as info:
        create(openai_client(fake))
    assert info.value.status_code == status and info.value.body["message"] == "nope"
    assert info.value.response.headers["retry-after-ms"] == "1000"
    with pytest.raises(exc):
        await acreate(async_openai_client(fake))


async def test_langchain_openai_raises_api_error_on_the_mid_stream_error():
    from langchain_openai import ChatOpenAI

    fake = FakeProvider(FMT, fault_script(ErrorEvent("Overloaded", "overloaded")))
    llm = ChatOpenAI(model="gpt-4o-mini", api_key="sk-test", base_url="http://fake/v1",
                     use_responses_api=True, max_retries=0, http_client=fake.client(),
                     http_async_client=fake.async_client())
    text = ""
    with pytest.raises(openai.APIError, match="Overloaded") as info:
        for chunk in llm.stream("hi"):
            text += "".join(p.get("text", "") for p in chunk.content if isinstance(p, dict))
    assert type(info.value) is openai.APIError and text == "before é"
    with pytest.raises(openai.APIError, match="Overloaded"):
        async for _ in llm.astream("hi"):
            pass
