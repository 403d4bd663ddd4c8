"""Ollama, Bedrock and Azure OpenAI bytes, cut at every offset, through the real clients'
parsers: ollama's line reader (sync and async), botocore's EventStreamBuffer, the openai SDK's
AzureOpenAI. Every cut must give the same text as the uncut stream."""

from __future__ import annotations

import asyncio
import base64
import json

import httpx
import ollama
import openai
import pytest
from botocore.eventstream import EventStreamBuffer
from sdk_mock import FakeProvider, encode, make_script

from sselab.encoders.base import RequestInfo
from sselab.script.events import Finish, TextDelta

TEXT = ["Hé", ' "quoted" \\', " 日本🎉", " end"]
SCRIPT = make_script(*(TextDelta(t) for t in TEXT), Finish("stop"))
WANT = "".join(TEXT)
MSGS = [{"role": "user", "content": "hi"}]


def _ollama_text(fake: FakeProvider) -> str:
    client = ollama.Client(host="http://fake", transport=httpx.MockTransport(fake.handle))
    return "".join(p.message.content or "" for p in client.chat(model="m", messages=MSGS,
                                                                  stream=True))


def _length(fmt: str, path: str, body: dict) -> int:
    req = RequestInfo(request_id="r", format=fmt, path=path, body=body, model="m")
    return len(encode(fmt, SCRIPT, req))


def test_ollama_every_offset_sync() -> None:
    n = _length("ollama", "/api/chat", {"model": "m", "messages": MSGS})
    assert n > 100
    for k in range(1, n):
        assert _ollama_text(FakeProvider("ollama", SCRIPT, splits=[k])) == WANT, k


def test_ollama_every_offset_async() -> None:
    n = _length("ollama", "/api/chat", {"model": "m", "messages": MSGS})

    async def main() -> None:
        for k in range(1, n, 3):
            fake = FakeProvider("ollama", SCRIPT, splits=[k, k + 1])
            client = ollama.AsyncClient(host="http://fake",
                                        transport=httpx.MockTransport(fake.handle))
            text = ""
            async for part in await client.chat(model="m", messages=MSGS, stream=True):
                text += part.message.content or ""
            assert text == WANT, k

    asyncio.run(main())


@pytest.mark.parametrize("fmt,path", [
    ("bedrock_converse", "/model/m/converse-stream"),
    ("bedrock_invoke", "/model/m/invoke-with-response-stream"),
])
def test_bedrock_event_stream_every_offset(fmt: str, path: str) -> None:
    body = {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}
    req = RequestInfo(request_id="r", format=fmt, path=path, body=body, model="m",
                      path_params={"modelId": "m", "action": path.rsplit("/", 1)[1]})
    data = encode(fmt, SCRIPT, req)

    def parse(pieces: list[bytes]) -> list[tuple[dict, bytes]]:
        buf, out = EventStreamBuffer(), []
        for piece in pieces:
            buf.add_data(piece)
            out += [(m.headers, m.payload) for m in buf]
        return out

    whole = parse([data])
    assert whole and all(h[":message-type"] == "event" for h, _ in whole)
    events = [json.loads(p) for _, p in whole]
    if fmt == "bedrock_invoke":  # Anthropic Messages events inside base64 "chunk" payloads
        events = [json.loads(base64.b64decode(e["bytes"])) for e in events]
    assert "".join(e.get("delta", {}).get("text", "") for e in events) == WANT
    for k in range(1, len(data)):
        assert parse([data[:k], data[k:]]) == whole, k


def test_azure_every_offset() -> None:
    body = {"model": "dep", "messages": MSGS, "stream": True}
    n = _length("azure_openai", "/openai/deployments/dep/chat/completions", body)
    for k in range(1, n, 2):
        fake = FakeProvider("azure_openai", SCRIPT, splits=[k])
        client = openai.AzureOpenAI(azure_endpoint="http://fake", api_key="k",
                                    api_version="2024-10-21", max_retries=0,
                                    http_client=fake.client())
        text = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
            model="dep", messages=MSGS, stream=True) if c.choices)
        assert text == WANT, k
    assert fake.requests[-1].path == "/openai/deployments/dep/chat/completions"
    assert fake.requests[-1].query.get("api-version") == "2024-10-21"
