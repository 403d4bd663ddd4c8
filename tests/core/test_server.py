"""The simulator over real sockets: selection, errors, timeline, faults, disconnects."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import httpx
import pytest

from sselab import Simulator, SimulatorThread
from sselab.sse_parse import parse

CHAT = "/v1/chat/completions"


def body(model: str = "gpt-4o", stream: bool = True) -> dict:
    return {"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}


def text_of(raw: bytes) -> str:
    out = []
    for ev in parse([raw]):
        if ev.data != "[DONE]":
            for choice in json.loads(ev.data)["choices"]:
                out.append(choice["delta"].get("content") or "")
    return "".join(out)


async def test_default_scenario_streams_its_text_and_is_recorded(sim: Simulator) -> None:
    async with httpx.AsyncClient() as c:
        r = await c.post(sim.url(CHAT), json=body())
    script_text = sim.scenarios["default"].response.text
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    assert text_of(r.content) == script_text
    rec = sim.last
    assert rec is not None and r.headers["x-sselab-request-id"] == rec.id
    assert (rec.scenario, rec.format, rec.outcome, rec.stream) == (
        "default", "openai_chat", "completed", True)
    assert rec.bytes_written == len(r.content)
    assert len(rec.writes) > 20 and rec.first_byte_at >= rec.received_at


async def test_scenario_by_header_model_and_prefix(sim: Simulator) -> None:
    async with httpx.AsyncClient() as c:
        await c.post(sim.url(CHAT), json=body(), headers={"X-Sselab-Scenario": "unicode"})
        await c.post(sim.url(CHAT), json=body("json-output"))
        await c.post(sim.url(CHAT), json=body("sselab:tool-call"))
    assert [r.scenario for r in sim.requests] == ["unicode", "json-output", "tool-call"]


async def test_unknown_scenario_is_a_provider_shaped_404_listing_names(sim: Simulator) -> None:
    async with httpx.AsyncClient() as c:
        r = await c.post(sim.url(CHAT), json=body(), headers={"X-Sselab-Scenario": "nope"})
        r2 = await c.post(sim.url(CHAT), json=body("sselab:nope2"))
        ok = await c.post(sim.url(CHAT), json=body(stream=False))  # still serving
    assert r.status_code == 404 and r2.status_code == 404
    message = r.json()["error"]["message"]
    assert "nope" in message and "mid-stream-error" in message and "default" in message
    assert ok.status_code == 200 and sim.requests[0].outcome == "http_error"


async def test_bad_json_and_non_object_bodies_are_400(sim: Simulator) -> None:
    async with httpx.AsyncClient() as c:
        bad = await c.post(sim.url(CHAT), content=b"{not json",
                           headers={"content-type": "application/json"})
        arr = await c.post(sim.url(CHAT), json=[1, 2])
        ok = await c.post(sim.url(CHAT), json=body())
    assert bad.status_code == 400 and "not valid JSON" in bad.json()["error"]["message"]
    assert arr.status_code == 400 and "JSON object" in arr.json()["error"]["message"]
    assert ok.status_code == 200


async def test_http_error_scenarios_carry_retry_after(sim: Simulator) -> None:
    async with httpx.AsyncClient() as c:
        r = await c.post(sim.url(CHAT), json=body("http-429"))
        r5 = await c.post(sim.url(CHAT), json=body("http-503"))
    assert r.status_code == 429 and r.headers["retry-after"] == "2"
    assert r5.status_code == 503 and r5.headers["retry-after"] == "5"
    assert sim.requests[0].outcome == "http_error" and sim.requests[0].status == 429


async def test_non_streaming_answer_is_complete_json(sim: Simulator) -> None:
    async with httpx.AsyncClient() as c:
        r = await c.post(sim.url(CHAT), json=body("default", stream=False))
    data = r.json()
    assert data["choices"][0]["message"]["content"] == sim.scenarios["default"].response.text
    assert sim.last.outcome == "completed" and sim.last.stream is False


async def test_timeline_api(sim: Simulator) -> None:
    async with httpx.AsyncClient() as c:
        await c.post(sim.url(CHAT), json=body())
        listing = (await c.get(sim.url("/_sselab/requests"))).json()["requests"]
        one = (await c.get(sim.url(f"/_sselab/requests/{listing[0]['id']}"))).json()
        missing = await c.get(sim.url("/_sselab/requests/req_999999"))
        names = (await c.get(sim.url("/_sselab/scenarios"))).json()
        await c.post(sim.url("/_sselab/reset"), json={})
        after = (await c.get(sim.url("/_sselab/requests"))).json()["requests"]
        nowhere = await c.post(sim.url("/v2/nothing"), json={})
    assert one["outcome"] == "completed" and one["write_count"] == len(one["writes"]) > 10
    assert {"at", "offset_ms", "bytes", "drain_wait_ms"} <= set(one["writes"][0])
    assert sum(w["bytes"] for w in one["writes"]) == one["bytes_written"]
    for key in ("received_at", "first_byte_at", "ended_at", "client_disconnected_at", "path"):
        assert key in one
    assert missing.status_code == 404
    assert names["default"] == "default" and len(names["scenarios"]) >= 15
    assert after == []
    assert nowhere.status_code == 404 and "/v1/chat/completions" in str(nowhere.json())


def _raw_request(port: int, scenario: str, path: str = CHAT) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port))
    payload = json.dumps(body()).encode()
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              f"X-Sselab-Scenario: {scenario}\r\nContent-Length: {len(payload)}\r\n\r\n"
              .encode() + payload)
    return s


def _read_until(s: socket.socket, needle: bytes, limit: float = 5.0) -> bytes:
    s.settimeout(limit)
    got = bytearray()
    while needle not in got[-(len(needle) + 65536):]:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    return bytes(got)


@pytest.mark.parametrize("how", ["close", "shutdown"])
def test_disconnect_during_stall_is_noticed_within_50ms(sim_thread: SimulatorThread,
                                                        how: str) -> None:
    port = int(sim_thread.base_url.rsplit(":", 1)[1])
    s = _raw_request(port, "stall-forever")
    _read_until(s, b'"finish_reason":null}')
    time.sleep(0.3)  # well into the stall: nothing is being written now
    assert sim_thread.last.outcome == "in_progress"
    left = time.time()
    if how == "close":
        s.close()
    else:
        s.shutdown(socket.SHUT_WR)
    rec = sim_thread.wait_for(lambda r: r.done, timeout=5)
    if how == "shutdown":
        s.close()
    assert rec.outcome == "client_disconnected"
    assert rec.client_disconnected_at - left < 0.05


def test_close_fault_is_fin_without_chunk_terminator(sim_thread: SimulatorThread) -> None:
    port = int(sim_thread.base_url.rsplit(":", 1)[1])
    s = _raw_request(port, "drop-mid-stream")
    raw = _read_until(s, b"\x00never")  # until EOF
    s.close()
    assert b"HTTP/1.1 200" in raw and not raw.endswith(b"0\r\n\r\n")
    assert sim_thread.wait_for().outcome == "fault_closed"


def test_reset_fault_is_rst(sim_thread: SimulatorThread) -> None:
    port = int(sim_thread.base_url.rsplit(":", 1)[1])
    s = _raw_request(port, "reset-mid-stream")
    with pytest.raises(ConnectionResetError):
        _read_until(s, b"\x00never")
    s.close()
    assert sim_thread.wait_for().outcome == "fault_reset"


def test_slow_reader_backpressure_is_recorded(sim_thread: SimulatorThread) -> None:
    port = int(sim_thread.base_url.rsplit(":", 1)[1])
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    payload = json.dumps(body()).encode()
    s.sendall(f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              f"X-Sselab-Scenario: firehose\r\nContent-Length: {len(payload)}\r\n\r\n"
              .encode() + payload)
    # not reading: the server must come to wait (on a loaded machine filling the socket
    # buffers may take a while), not buffer the whole answer
    deadline = time.monotonic() + 10
    while (sim_thread.last is None or sim_thread.last.blocked_since is None) \
            and time.monotonic() < deadline:
        time.sleep(0.02)
    rec = sim_thread.last
    assert rec.outcome == "in_progress" and rec.blocked_since is not None
    time.sleep(0.8)  # blocked all along: this time must be recorded as drain wait
    _read_until(s, b"data: [DONE]", limit=20)
    s.close()
    rec = sim_thread.wait_for(timeout=5)
    assert rec.outcome == "completed" and rec.blocked_since is None
    assert rec.drain_wait > 0.5  # the 0.8 s we did not read was spent waiting, and recorded


async def test_keepalives_during_stall(sim: Simulator) -> None:
    got = b""
    async with httpx.AsyncClient() as c:
        async with c.stream("POST", sim.url(CHAT), json=body("stall-keepalive")) as r:
            start = time.monotonic()
            async for chunk in r.aiter_raw():
                got += chunk
                if got.count(b": keep-alive") >= 2 or time.monotonic() - start > 5:
                    break
    assert got.count(b": keep-alive") >= 2
    rec = await sim.wait_for(timeout=5)
    assert rec.outcome == "client_disconnected"


async def test_server_keeps_serving_while_a_stream_is_stalled(sim: Simulator) -> None:
    async with httpx.AsyncClient(timeout=5) as c:
        stalled = asyncio.create_task(c.post(sim.url(CHAT), json=body("stall-forever")))
        await asyncio.sleep(0.2)
        ok = await c.post(sim.url(CHAT), json=body(stream=False))
        stalled.cancel()
    assert ok.status_code == 200


def test_split_scenarios_reassemble_through_the_server(sim_thread: SimulatorThread) -> None:
    for name in ("split-one-byte", "split-random", "split-utf8", "crlf-line-endings",
                 "cr-line-endings"):
        r = httpx.post(sim_thread.url(CHAT), json=body(name), timeout=10)
        assert text_of(r.content) == sim_thread.scenarios[name].response.text, name
    one_byte = sim_thread.find_by_scenario("split-one-byte") if hasattr(
        sim_thread, "find_by_scenario") else sim_thread.recorder.find(
        lambda r: r.scenario == "split-one-byte")
    assert all(w[1] == 1 for w in one_byte.writes)


async def test_cors_preflight_and_headers(sim: Simulator) -> None:
    async with httpx.AsyncClient() as c:
        pre = await c.options(sim.url(CHAT), headers={
            "Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-sselab-scenario"})
        r = await c.post(sim.url(CHAT), json=body(stream=False),
                         headers={"Origin": "http://localhost:3000"})
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == "*"
    assert "x-sselab-scenario" in pre.headers["access-control-allow-headers"]
    assert r.headers["access-control-allow-origin"] == "*"


def test_serve_logs_one_line_per_finished_request() -> None:
    from sselab.server.recorder import log_line

    lines: list[str] = []
    with SimulatorThread(on_finish=lambda rec: lines.append(log_line(rec))) as s:
        httpx.post(s.url(CHAT), json=body("http-429"))
        httpx.post(s.url(CHAT), json=body(stream=False))
    assert len(lines) == 2
    assert "scenario=http-429 status=429 http_error" in lines[0]
    assert "scenario=default status=200 completed" in lines[1]
