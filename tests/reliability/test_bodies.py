"""Bodies that used to escape the provider shapes: nested too deeply (500 + RecursionError),
too large (aiohttp's text/plain 413), cut off by the client (record left in_progress), and
OpenAI parameters of the wrong type (accepted where the API answers 400)."""

from __future__ import annotations

import asyncio
import json
import logging
import socket

import httpx
import pytest

from sselab import Simulator

CHAT = "/v1/chat/completions"
BODY = {"model": "gpt-4o", "stream": False, "messages": [{"role": "user", "content": "hi"}]}
DEEP = b"[" * 100_000


async def _post(sim: Simulator, path: str, content: bytes) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as c:
        return await c.post(sim.url(path), content=content,
                            headers={"Content-Type": "application/json"})


async def test_a_deeply_nested_body_is_a_400_in_each_providers_shape(
        sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    openai = await _post(sim, CHAT, DEEP)
    anthropic = await _post(sim, "/v1/messages", DEEP)
    assert openai.status_code == 400 and anthropic.status_code == 400
    error = openai.json()["error"]
    assert error["type"] == "invalid_request_error" and "nested too deeply" in error["message"]
    assert anthropic.json()["type"] == "error"
    assert anthropic.json()["error"]["type"] == "invalid_request_error"
    assert [r.outcome for r in sim.requests] == ["rejected", "rejected"]
    assert not [r for r in caplog.records if r.exc_info]  # no RecursionError traceback


async def test_deep_bodies_elsewhere_are_400_too(sim: Simulator) -> None:
    lookup = await _post(sim, "/api/show", DEEP)  # Ollama's model lookup
    control = None
    async with httpx.AsyncClient(timeout=30) as c:
        control = await c.put(sim.url("/_sselab/default-scenario"), content=DEEP,
                              headers={"Content-Type": "application/json"})
    assert lookup.status_code == 400 and "nested too deeply" in lookup.json()["error"]
    assert control.status_code == 400


async def test_the_toxiproxy_api_answers_a_deep_body_with_400() -> None:
    from sselab.toxiproxy import ToxiproxyServer

    async with ToxiproxyServer() as server, httpx.AsyncClient(timeout=30) as c:
        r = await c.post(server.api_url + "/proxies", content=DEEP)
    assert r.status_code == 400
    assert r.json() == {"error": "bad request body: exceeded max depth", "status": 400}


async def test_a_body_over_16_mib_is_a_json_413(sim: Simulator) -> None:
    big = json.dumps({**BODY, "pad": "x" * (17 * 1024 * 1024)}).encode()
    r = await _post(sim, CHAT, big)
    assert r.status_code == 413 and r.headers["content-type"].startswith("application/json")
    error = r.json()["error"]
    assert "16 MiB" in error["message"] and error["type"] == "invalid_request_error"
    rec = sim.last
    assert rec is not None and rec.outcome == "rejected" and rec.status == 413


async def test_a_client_leaving_mid_body_is_recorded_as_disconnected(sim: Simulator) -> None:
    s = socket.create_connection(("127.0.0.1", sim.port))
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
              b"Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n{\"model\": ")
    await sim.wait_for(lambda r: True, timeout=5)  # the request is recorded...
    s.close()  # ...and the client goes away before the body is complete
    rec = await sim.wait_for(lambda r: r.done, timeout=5)
    assert rec.outcome == "client_disconnected"


async def test_a_broken_chunked_body_then_a_close_is_not_left_in_progress(
        sim: Simulator) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"5\r\n{\"a\":\r\n")
    await sim.wait_for(lambda r: True, timeout=5)  # the handler is reading the body
    writer.write(b"zz\r\n")  # a chunk size that is not hex (aiohttp's parser stops there)
    await asyncio.sleep(0.1)
    writer.close()
    rec = await sim.wait_for(lambda r: r.done, timeout=5)
    assert rec.outcome == "client_disconnected"


@pytest.mark.parametrize("field,value,message", [
    ("stream", "yes", "Invalid type for 'stream': expected a boolean, but got a string "
                      "instead."),
    ("stream", 1, "Invalid type for 'stream': expected a boolean, but got an integer instead."),
    ("model", 5, "Invalid type for 'model': expected a string, but got an integer instead."),
    ("messages", "hi", "Invalid type for 'messages': expected an array of objects, but got a "
                       "string instead."),
])
async def test_openai_chat_wrong_types_are_the_apis_400(sim: Simulator, field: str,
                                                         value: object, message: str) -> None:
    async with httpx.AsyncClient() as c:
        r = await c.post(sim.url(CHAT), json={**BODY, field: value})
    assert r.status_code == 400
    assert r.json() == {"error": {"message": message, "type": "invalid_request_error",
                                  "param": field, "code": "invalid_type"}}
    assert sim.last is not None and sim.last.outcome == "rejected"


async def test_openai_message_items_and_nulls(sim: Simulator) -> None:
    async with httpx.AsyncClient() as c:
        item = await c.post(sim.url(CHAT), json={**BODY, "messages": ["hi"]})
        nulls = await c.post(sim.url(CHAT), json={**BODY, "stream": None})
    assert item.status_code == 400 and item.json()["error"]["param"] == "messages[0]"
    assert nulls.status_code == 200  # null reads as absent, as in the API


async def test_responses_and_azure_check_types_too(sim: Simulator) -> None:
    base = {"model": "gpt-4o", "input": "hi"}
    async with httpx.AsyncClient() as c:
        responses = await c.post(sim.url("/v1/responses"), json={**base, "stream": "yes"})
        responses_input = await c.post(sim.url("/v1/responses"), json={**base, "input": 5})
        azure = await c.post(sim.url("/openai/deployments/gpt-4o/chat/completions"),
                             params={"api-version": "2024-10-21"},
                             json={**BODY, "stream": "yes"})
        azure_responses = await c.post(sim.url("/openai/v1/responses"),
                                       json={**base, "model": 5})
        fine = await c.post(sim.url("/v1/responses"), json=base)
    assert responses.status_code == 400 and responses.json()["error"]["param"] == "stream"
    assert responses.json()["error"]["code"] == "invalid_type"
    assert responses_input.status_code == 400
    assert responses_input.json()["error"]["param"] == "input"
    assert azure.status_code == 400 and azure.json()["error"]["param"] == "stream"
    assert azure_responses.status_code == 400
    assert azure_responses.json()["error"]["message"].startswith("Invalid type for 'model'")
    assert fine.status_code == 200


async def test_the_openai_sdk_reads_param_and_code() -> None:
    openai = pytest.importorskip("openai")
    async with Simulator() as sim:
        client = openai.AsyncOpenAI(base_url=sim.url("/v1"), api_key="x", max_retries=0)
        with pytest.raises(openai.BadRequestError) as info:
            await client.chat.completions.create(model=5, messages=[])  # type: ignore[arg-type]
        await client.close()
    assert info.value.param == "model" and info.value.code == "invalid_type"


async def test_many_bad_bodies_leave_nothing_in_progress(sim: Simulator) -> None:
    bodies = [DEEP, b"{not json", b"[1, 2]", json.dumps({**BODY, "stream": "no"}).encode()]
    await asyncio.gather(*(_post(sim, CHAT, b) for b in bodies * 5))
    assert len(sim.requests) == 20
    assert {r.outcome for r in sim.requests} == {"rejected"}


async def test_a_body_that_does_not_decompress_is_a_400_and_one_log_line(
        sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    async with httpx.AsyncClient() as c:
        r = await c.post(sim.url(CHAT), content=b"not gzip" * 10, headers={
            "Content-Type": "application/json", "Content-Encoding": "gzip"})
    await asyncio.sleep(0.1)
    assert r.status_code == 400 and "content-encoding" in r.json()["error"]["message"]
    assert sim.last is not None and sim.last.outcome == "rejected"
    assert not [x for x in caplog.records if x.exc_info]
