"""The extractor finds the answer text, errors and the end in every common stream shape: the
simulator's own wire formats (fed one byte at a time), the reference app's shape, Vercel's data
stream protocol, plain text and explicit JSON paths."""

from __future__ import annotations

import httpx
import pytest

from sselab import Simulator, compile_scenario
from sselab.check.extract import Extractor, validate_mode
from sselab.errors import ConfigError

MESSAGES = [{"role": "user", "content": "hi"}]
FAST = {  # built-in scenarios' content, without their pacing (these tests read whole bodies)
    "unicode": """name: fast-unicode
description: unicode, unpaced
response: {text: "Café déjà vu — naïve. 日本語のテキスト。Emoji: 🚀✨👩‍💻 and Grüße! Ελληνικά"}
tokenize: chars
""",
    "mid-stream-error": """name: fast-mid-stream-error
description: an error after 12 tokens, unpaced
response: {faker: {seed: 3, sentences: 3}}
faults: [{type: error_event, at_token: 12, kind: overloaded, message: Overloaded}]
""",
    "default": """name: fast-default
description: default, unpaced
response: {text: "Hello! I'm the sselab simulator, unpaced."}
""",
}
ROUTES = {
    "openai-chat": ("/v1/chat/completions", {"model": "m", "stream": True, "messages": MESSAGES}),
    "openai-responses": ("/v1/responses", {"model": "m", "stream": True, "input": "hi"}),
    "anthropic": ("/v1/messages", {"model": "m", "max_tokens": 50, "stream": True,
                                   "messages": MESSAGES}),
    "gemini": ("/v1beta/models/m:streamGenerateContent?alt=sse",
               {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
    "vercel": ("/ui/chat", {"messages": []}),
    "plain-sse": ("/sse", {}),
    "ollama-chat": ("/api/chat", {"model": "m", "messages": MESSAGES}),
    "ollama-generate": ("/api/generate", {"model": "m", "prompt": "hi"}),
    "bedrock-converse": ("/model/m/converse-stream", {"messages": []}),
    "bedrock-invoke": ("/model/m/invoke-with-response-stream",
                       {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50,
                        "messages": MESSAGES}),
    "azure-chat": ("/openai/deployments/m/chat/completions?api-version=2024-10-21",
                   {"stream": True, "messages": MESSAGES}),
    "azure-responses": ("/openai/v1/responses", {"model": "m", "stream": True, "input": "hi"}),
}
NEW_FORMATS = ["ollama-chat", "ollama-generate", "bedrock-converse", "bedrock-invoke",
               "azure-chat", "azure-responses"]


def feed_bytewise(ex: Extractor, body: bytes, ctype: str) -> tuple[str, list[str], bool]:
    text, errors, done = "", [], False
    for i in range(len(body)):
        for p in ex.feed(body[i:i + 1], ctype):
            text += p.text
            errors += [p.error] if p.error else []
            done = done or p.done
    return text, errors, done


async def fetch(sim: Simulator, route: str, scenario: str) -> tuple[bytes, str]:
    path, body = ROUTES[route]
    scenario = sim.add_scenario(FAST[scenario]).name
    async with httpx.AsyncClient() as client:
        resp = await client.post(sim.base_url + path, json=body,
                                 headers={"X-Sselab-Scenario": scenario})
    return resp.content, resp.headers["content-type"]


@pytest.mark.parametrize("route", list(ROUTES))
async def test_auto_reads_every_simulator_format_byte_by_byte(sim: Simulator, route: str) -> None:
    body, ctype = await fetch(sim, route, "unicode")
    want = compile_scenario(sim.scenarios["fast-unicode"]).text
    text, errors, done = feed_bytewise(Extractor("auto"), body, ctype)
    assert text == want
    assert errors == []
    assert done or route == "gemini"  # Gemini's stream has no end marker


@pytest.mark.parametrize("route", ["openai-chat", "anthropic", "vercel", "plain-sse",
                                   "openai-responses", *NEW_FORMATS])
async def test_auto_reports_a_mid_stream_error(sim: Simulator, route: str) -> None:
    body, ctype = await fetch(sim, route, "mid-stream-error")
    script = compile_scenario(sim.scenarios["fast-mid-stream-error"])
    before = "".join(t.event.text for t in script.events if hasattr(t.event, "text")
                     and type(t.event).__name__ == "TextDelta")
    text, errors, done = feed_bytewise(Extractor("auto"), body, ctype)
    assert text == before
    assert errors and "Overloaded" in errors[0]


@pytest.mark.parametrize("mode,route", [("openai", "openai-chat"), ("openai", "openai-responses"),
                                        ("vercel", "vercel"),
                                        ("sse-json:text", "plain-sse"),
                                        ("sse-json:delta.text", "anthropic"),
                                        ("sse-json:candidates.0.content.parts.0.text",
                                         "gemini")])
async def test_explicit_modes(sim: Simulator, mode: str, route: str) -> None:
    body, ctype = await fetch(sim, route, "default")
    text, _, _ = feed_bytewise(Extractor(mode), body, ctype)
    assert text == compile_scenario(sim.scenarios["fast-default"]).text


def test_reference_app_shape_with_keepalives_and_done() -> None:
    body = (b'event: start\ndata: {"answer_id": "a1", "model": "m"}\n\n: keep-alive\n\n'
            b'event: token\ndata: {"text": "Gr\xc3\xbc\xc3\x9fe "}\n\n'
            b'event: token\ndata: {"text": "\xf0\x9f\x9a\x80"}\n\n'
            b'event: done\ndata: {"finish_reason": "stop", "text": "not the answer"}\n\n')
    ex = Extractor()
    text, errors, done = feed_bytewise(ex, body, "text/event-stream; charset=utf-8")
    assert (text, errors, done) == ("Grüße 🚀", [], True)
    assert ex.shape == "sse-json:text"


def test_error_event_and_plain_data() -> None:
    ex = Extractor()
    pieces = ex.feed(b"data: Hello\n\ndata:  world\n\nevent: error\ndata: boom\n\n",
                     "text/event-stream")
    assert "".join(p.text for p in pieces) == "Hello world"
    assert [p.error for p in pieces if p.error] == ["boom"]
    assert ex.shape == "sse-data"


def test_text_mode_and_plain_text_streams() -> None:
    for mode in ("text", "auto"):
        ex = Extractor(mode)
        whole = "Grüße 🚀".encode()
        assert "".join(p.text for i in range(len(whole))
                       for p in ex.feed(whole[i:i + 1], "text/plain; charset=utf-8")) == "Grüße 🚀"


def test_vercel_data_stream_protocol() -> None:
    ex = Extractor("vercel")
    body = b'f:{"messageId":"m"}\n0:"Hel"\n0:"lo"\n3:"bad things"\nd:{"finishReason":"stop"}\n'
    pieces = [p for i in range(len(body)) for p in ex.feed(body[i:i + 1], "text/plain")]
    assert "".join(p.text for p in pieces) == "Hello"
    assert [p.error for p in pieces if p.error] == ["bad things"]
    assert pieces[-1].done


def test_list_indexes_in_paths() -> None:
    ex = Extractor("sse-json:choices.0.delta.content")
    pieces = ex.feed(b'data: {"choices": [{"delta": {"content": "x"}}]}\n\n'
                     b'data: {"choices": []}\n\n', "text/event-stream")
    assert [p.text for p in pieces] == ["x"]


@pytest.mark.parametrize("bad", ["json", "sse-json:", "sse-json:...", "xml"])
def test_bad_modes_name_the_option(bad: str) -> None:
    with pytest.raises(ConfigError, match="--extract"):
        validate_mode(bad)


@pytest.mark.parametrize("route,shape", [("ollama-chat", "ndjson"), ("bedrock-converse",
                                                                    "eventstream")])
async def test_framed_formats_are_sniffed_without_a_content_type(sim: Simulator, route: str,
                                                                 shape: str) -> None:
    body, _ = await fetch(sim, route, "default")
    ex = Extractor("auto")
    text, errors, done = feed_bytewise(ex, body, "")
    assert (text, errors, done) == (compile_scenario(sim.scenarios["fast-default"]).text, [],
                                    True)
    assert ex.shape == shape


def test_a_bad_event_stream_checksum_is_an_error_and_ends_reading() -> None:
    from sselab import eventstream

    good = eventstream.event("contentBlockDelta", b'{"contentBlockIndex":0,"delta":{"text":"a"}}')
    bad = eventstream.corrupt(good)
    ex = Extractor("auto")
    pieces = ex.feed(good + bad + good, "application/vnd.amazon.eventstream")
    assert [p.text for p in pieces if p.text] == ["a"]
    assert [p.error for p in pieces if p.error] == [
        "event stream: event stream message checksum mismatch"]
    assert ex.feed(good, "") == []
