"""The aiohttp application: the page, ``POST /api/chat`` and the read-only answer store.

Routes:

- ``GET /``: the chat page (``static/index.html``); ``/static/*``: its script and style;
- ``POST /api/chat``: body ``{"messages": [{"role", "content"}...], "model"?: str}`` (or
  ``{"prompt": str}``); answers an SSE stream (see the package docstring), or 400 with
  ``{"error": {"message", "field"}}`` when the body is unusable;
- ``GET /api/answers`` and ``GET /api/answers/{id}``: answers with their state and text;
- ``GET /api/config``: the default model and timeouts, for the page.

Run it with ``handler_cancellation=True`` (``sselab_reference_app.runner`` does): that is what
turns a browser that went away into a cancelled handler, and so into a closed upstream request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from .broken import Flags
from .config import Config, make_config
from .relay import STREAM_HEADERS, ClientGone, Downstream, relay
from .store import AnswerStore

STATIC = Path(__file__).parent / "static"
SCENARIO_HEADER = "X-Sselab-Scenario"  # forwarded upstream, so tests can pick a scenario
ROLES = ("system", "user", "assistant")
MAX_MESSAGES = 200
MAX_BODY = 1024 * 1024


@dataclass
class AppState:
    config: Config
    store: AnswerStore = field(default_factory=AnswerStore)
    session: aiohttp.ClientSession | None = None
    background: set[asyncio.Task[Any]] = field(default_factory=set)  # broken flag no_abort


STATE: web.AppKey[AppState] = web.AppKey("reference_app_state", AppState)


class BadRequest(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: list[dict[str, str]]


def parse_chat(raw: bytes, default_model: str) -> ChatRequest:
    """Validate a ``/api/chat`` body; :class:`BadRequest` names the offending field."""
    try:
        body = json.loads(raw)
    except ValueError:
        raise BadRequest("body", "the body must be JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("body", "the body must be a JSON object")
    model = body.get("model") or default_model
    if not isinstance(model, str) or len(model) > 200:
        raise BadRequest("model", "model must be a string of at most 200 characters")
    if "messages" not in body and isinstance(body.get("prompt"), str):
        body["messages"] = [{"role": "user", "content": body["prompt"]}]
    messages = body.get("messages")
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
        raise BadRequest("messages", f"messages must be a list of 1 to {MAX_MESSAGES} messages")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise BadRequest(f"messages[{i}].role", f"role must be one of {', '.join(ROLES)}")
        if not isinstance(m.get("content"), str):
            raise BadRequest(f"messages[{i}].content", "content must be a string")
    return ChatRequest(model, [{"role": m["role"], "content": m["content"]} for m in messages])


async def chat(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    config = state.config
    try:
        req = parse_chat(await request.read(), config.model)
    except BadRequest as exc:
        return web.json_response({"error": {"message": str(exc), "field": exc.field}},
                                 status=400)
    answer = state.store.new(req.model, req.messages)
    flags = config.flags
    headers = dict(STREAM_HEADERS)
    if flags.no_headers:  # broken on purpose: a buffering proxy will hold the stream back
        headers = {"Content-Type": STREAM_HEADERS["Content-Type"]}
    headers["X-Answer-Id"] = answer.id
    out = Downstream(request, headers, buffered=flags.buffered,
                     ignore_disconnect=flags.no_abort)
    scenario = request.headers.get(SCENARIO_HEADER)
    assert state.session is not None
    work = relay(state.session, answer, out, base_url=config.upstream_base_url,
                 api_key=config.api_key, idle_timeout=config.idle_timeout,
                 keepalive_interval=config.keepalive_interval, flags=flags,
                 extra_headers={SCENARIO_HEADER: scenario} if scenario else None)
    if flags.no_abort:  # broken on purpose: the relay outlives the browser's request
        task = asyncio.ensure_future(work)
        state.background.add(task)
        task.add_done_callback(state.background.discard)
        await asyncio.shield(task)
    else:
        with contextlib.suppress(ClientGone):  # noticed by a failed write: nothing to answer
            await work
    return out.response


async def get_answer(request: web.Request) -> web.Response:
    answer = request.app[STATE].store.get(request.match_info["id"])
    if answer is None:
        return web.json_response({"error": {"message": "no such answer", "field": "id"}},
                                 status=404)
    return web.json_response(answer.to_json())


async def list_answers(request: web.Request) -> web.Response:
    answers = request.app[STATE].store.all()
    return web.json_response({"answers": [a.to_json(messages=False) for a in answers]})


async def get_config(request: web.Request) -> web.Response:
    config = request.app[STATE].config
    return web.json_response({"model": config.model, "idle_timeout": config.idle_timeout,
                              "keepalive_interval": config.keepalive_interval,
                              "broken_flags": config.flags.on})


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def _session(app: web.Application) -> Any:
    state = app[STATE]
    timeout = aiohttp.ClientTimeout(total=None, connect=state.config.connect_timeout)
    state.session = aiohttp.ClientSession(timeout=timeout)
    yield
    for task in list(state.background):
        task.cancel()
    if state.background:
        await asyncio.wait(state.background, timeout=2)
    await state.session.close()


def create_app(*, upstream_base_url: str | None = None, api_key: str | None = None,
               model: str | None = None, idle_timeout: float | None = None,
               keepalive_interval: float | None = None,
               flags: Flags | str | Iterable[str] | None = None,
               config: Config | None = None) -> web.Application:
    """The reference app. Unset arguments come from the environment
    (``sselab_reference_app.config``); ``idle_timeout=0`` disables the idle timeout; ``flags``
    are the deliberately broken switches (``sselab_reference_app.broken``), for sselab's own
    tests only."""
    if config is None:
        config = make_config(upstream_base_url=upstream_base_url, api_key=api_key, model=model,
                             idle_timeout=idle_timeout, keepalive_interval=keepalive_interval,
                             flags=flags)
    app = web.Application(client_max_size=MAX_BODY)
    app[STATE] = AppState(config)
    app.cleanup_ctx.append(_session)
    app.router.add_get("/", index)
    app.router.add_static("/static/", STATIC, append_version=False)
    app.router.add_post("/api/chat", chat)
    app.router.add_get("/api/answers", list_answers)
    app.router.add_get("/api/answers/{id}", get_answer)
    app.router.add_get("/api/config", get_config)
    return app
