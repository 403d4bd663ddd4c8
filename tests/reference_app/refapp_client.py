"""A small SSE client for the reference app's backend tests: records when each event arrived.

It parses with sselab's own decoder (``sselab.sse_parse``), independent of the app's."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from sselab import Simulator, compile_scenario
from sselab.script.events import ErrorEvent, Stall, TextDelta
from sselab.sse_parse import SSEDecoder
from sselab_reference_app import AppServer


@dataclass
class Received:
    """One ``/api/chat`` exchange as the browser would see it."""

    status: int
    headers: dict[str, str]
    events: list[tuple[float, str, Any]] = field(default_factory=list)  # (monotonic, type, data)
    comments: int = 0
    raw: bytes = b""

    @property
    def types(self) -> list[str]:
        return [t for _, t, _ in self.events]

    @property
    def text(self) -> str:
        return "".join(d["text"] for _, t, d in self.events if t == "token")

    def last(self, kind: str) -> Any:
        return next(d for _, t, d in reversed(self.events) if t == kind)

    def times(self, kind: str) -> list[float]:
        return [at for at, t, _ in self.events if t == kind]


def body(model: str | None = None, prompt: str = "hi") -> dict[str, Any]:
    out: dict[str, Any] = {"messages": [{"role": "user", "content": prompt}]}
    if model:
        out["model"] = model
    return out


async def read_events(resp: aiohttp.ClientResponse, *, stop_after_tokens: int | None = None,
                      timeout: float = 15.0) -> Received:
    got = Received(resp.status, dict(resp.headers))
    decoder = SSEDecoder()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = await asyncio.wait_for(resp.content.readany(), deadline - time.monotonic())
        except asyncio.TimeoutError:
            break
        if not chunk:
            break
        got.raw += chunk
        now = time.monotonic()
        for ev in decoder.feed(chunk):
            got.events.append((now, ev.event, json.loads(ev.data)))
        got.comments = decoder.comments
        if stop_after_tokens is not None and got.types.count("token") >= stop_after_tokens:
            break
    return got


Chat = Callable[..., Awaitable[Received]]
AppFactory = Callable[..., Awaitable[AppServer]]


def expected(sim: Simulator, name: str) -> str:
    """The scenario's text up to its error or stall (all of it when there is none)."""
    out = []
    for timed in compile_scenario(sim.scenarios[name]).events:
        if isinstance(timed.event, (ErrorEvent, Stall)):
            break
        if isinstance(timed.event, TextDelta):
            out.append(timed.event.text)
    return "".join(out)


# Long runs of multi-byte characters, written in random 1-16 byte pieces spaced 2 ms apart (and
# slow tokens, so that the pieces stay apart): many reads end inside a character.
CJK_SPLIT = """
name: cjk-split
description: Words of multi-byte characters, cut into small writes.
response:
  text: "日本語のテキストを細かく切ります 中文字符也一样被切开了
    한국어도마찬가지로잘립니다 絵文字🙂🙃も切れます"
tokenize: words
timing: {ttft_ms: 20, token_ms: 80}
faults:
  - {type: split, mode: random, min_size: 1, max_size: 16, seed: 3, pause_ms: 2}
"""
