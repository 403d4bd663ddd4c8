"""Each deliberately broken switch produces its bug, and the app without it does not."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Any

import aiohttp
import pytest
from refapp_client import CJK_SPLIT, AppFactory, Chat, body, expected, read_events

from sselab import Simulator, compile_scenario
from sselab.script.events import TextDelta
from sselab_reference_app import Flags, make_config
from sselab_reference_app.config import ConfigError

CORRECT, BROKEN = False, True


@pytest.mark.parametrize("broken", [CORRECT, BROKEN], ids=["correct", "no_abort"])
async def test_no_abort(sim: Simulator, app_factory: AppFactory, http: aiohttp.ClientSession,
                        broken: bool) -> None:
    server = await app_factory(flags=["no_abort"] if broken else None, resume_grace=0.3)
    resp = await http.post(server.url + "/api/chat", json=body("long-answer"))
    await read_events(resp, stop_after_tokens=3)
    resp.close()
    record = await sim.wait_for(timeout=5)
    answer = server.store.all()[-1]
    for _ in range(200):
        if answer.done:
            break
        await asyncio.sleep(0.01)
    if broken:  # read to the end, for nobody
        assert record.outcome == "completed"
        assert answer.state == "completed" and answer.text == expected(sim, "long-answer")
    else:
        assert record.outcome == "client_disconnected"
        assert answer.state == "stopped"


@pytest.mark.parametrize("broken", [CORRECT, BROKEN], ids=["correct", "buffered"])
async def test_buffered(sim: Simulator, app_factory: AppFactory, chat: Chat,
                        broken: bool) -> None:
    server = await app_factory(flags="buffered" if broken else None)
    got = await chat(server, "default")
    assert got.text == expected(sim, "default")
    token_at = [t.at for t in compile_scenario(sim.scenarios["default"]).events
                if isinstance(t.event, TextDelta)]
    spread = got.times("token")[-1] - got.times("token")[0]
    if broken:  # everything in one burst at the end
        assert spread < 0.2 * (token_at[-1] - token_at[0])
    else:
        assert spread >= 0.6 * (token_at[-1] - token_at[0])


@pytest.mark.parametrize("broken", [CORRECT, BROKEN], ids=["correct", "swallow_errors"])
async def test_swallow_errors(sim: Simulator, app_factory: AppFactory, chat: Chat,
                              broken: bool) -> None:
    server = await app_factory(flags=["swallow_errors"] if broken else None)
    got = await chat(server, "mid-stream-error")
    assert got.text == expected(sim, "mid-stream-error")
    if broken:  # the truncated answer passes for a complete one
        assert got.types[-1] == "done" and "error" not in got.types
        assert server.store.all()[-1].state == "completed"
    else:
        assert got.types[-1] == "error"
        assert server.store.all()[-1].state == "failed"


@pytest.mark.parametrize("broken", [CORRECT, BROKEN], ids=["correct", "no_idle_timeout"])
async def test_no_idle_timeout(sim: Simulator, app_factory: AppFactory, chat: Chat,
                               broken: bool) -> None:
    server = await app_factory(idle_timeout=0.3, keepalive_interval=0.2,
                               flags=["no_idle_timeout"] if broken else None)
    got = await chat(server, "stall-forever", timeout=1.5)
    assert got.text == expected(sim, "stall-forever")
    if broken:  # still hanging when the client gives up
        assert got.types[-1] == "token"
        assert got.comments >= 3  # kept alive, never ended
    else:
        assert got.types[-1] == "error" and got.last("error")["kind"] == "timeout"


@pytest.mark.parametrize("broken", [CORRECT, BROKEN], ids=["correct", "naive_utf8"])
async def test_naive_utf8(sim: Simulator, app_factory: AppFactory, chat: Chat,
                          broken: bool) -> None:
    sim.add_scenario(CJK_SPLIT)
    server = await app_factory(flags=["naive_utf8"] if broken else None)
    got = await chat(server, "cjk-split")
    if broken:
        assert "\ufffd" in got.text and got.text != expected(sim, "cjk-split")
    else:
        assert got.text == expected(sim, "cjk-split")


def _shrink_send_buffers(runner: Any, size: int = 16384) -> None:
    """Small kernel send buffers on a listening socket (its connections inherit them), so
    that back-pressure shows after kilobytes rather than megabytes."""
    for site in runner.sites:
        for sock in site._server.sockets:  # noqa: SLF001
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)


async def _stuck_client(port: int, model: str) -> asyncio.StreamWriter:
    """Send a chat request, read the response headers, then never read again."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock)
    payload = json.dumps(body(model)).encode()
    writer.write(b"POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                 b"\r\nContent-Length: %d\r\n\r\n%s" % (len(payload), payload))
    await reader.readuntil(b"\r\n\r\n")
    return writer


@pytest.mark.parametrize("broken", [CORRECT, BROKEN], ids=["correct", "unbounded_readahead"])
async def test_unbounded_readahead(sim: Simulator, app_factory: AppFactory,
                                   broken: bool) -> None:
    server = await app_factory(flags=["unbounded_readahead"] if broken else None)
    _shrink_send_buffers(sim._runner)  # noqa: SLF001
    _shrink_send_buffers(server._runner)  # noqa: SLF001
    writer = await _stuck_client(server.port, "firehose")  # 20,000 tokens, ~6 MB upstream
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            record = sim.last
            if record is None:  # the app has not called its provider yet (it does so in a task)
                continue
            blocked = record.blocked_since is not None and time.monotonic() - (
                record.blocked_since) > 0.5  # the provider has waited on the app for 0.5 s
            if record.done or blocked:
                break
        assert record is not None, "the app never called its provider"
        read = server.store.all()[-1].tokens  # tokens the app has read from its provider
        if broken:  # the whole answer sits in the app's memory, unread by the client
            assert record.outcome == "completed" and read > 1_000  # far past any read-ahead
        else:  # the app stopped reading: the provider waits for the slow client
            assert not record.done and record.blocked_since is not None
            assert read < 20_000
    finally:
        writer.close()


@pytest.mark.parametrize("broken", [CORRECT, BROKEN], ids=["correct", "no_headers"])
async def test_no_headers(sim: Simulator, app_factory: AppFactory, chat: Chat,
                          broken: bool) -> None:
    server = await app_factory(flags=["no_headers"] if broken else None)
    got = await chat(server, "split-one-byte")
    assert got.headers["Content-Type"].startswith("text/event-stream")
    if broken:
        assert "Cache-Control" not in got.headers and "X-Accel-Buffering" not in got.headers
    else:
        assert got.headers["Cache-Control"] == "no-cache, no-transform"
        assert got.headers["X-Accel-Buffering"] == "no"


def test_flags_parse_and_errors() -> None:
    assert Flags.parse("no-abort, buffered").on == ["no_abort", "buffered"]
    assert Flags.parse(None) == Flags() and Flags().on == []
    with pytest.raises(ValueError, match="unknown broken flag 'fast'"):
        Flags.parse(["fast"])
    with pytest.raises(ConfigError, match="REFERENCE_BROKEN"):
        make_config(env={"REFERENCE_BROKEN": "no_abort,nope"})
    assert make_config(env={"REFERENCE_BROKEN": "naive_utf8"}).flags.naive_utf8
