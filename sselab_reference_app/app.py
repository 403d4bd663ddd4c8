"""The aiohttp application: the page, ``POST /api/chat`` and the read-only answer store.

Routes:

- ``GET /``: the chat page (``static/index.html``); ``/static/*``: its script and style;
- ``POST /api/chat``: body ``{"messages": [{"role", "content"}...], "model"?: str}`` (or
  ``{"prompt": str}``); answers an SSE stream (see the package docstring), or 400 with
  ``{"error": {"message", "field"}}`` when the body is unusable. With a ``Last-Event-ID:
  ANSWER_ID:N`` header it resumes that answer after event N instead (the body is not read),
  or answers 404 when the app has no such answer;
- ``POST /api/answers/{id}/stop``: Stop: the provider call is closed at once (a dropped
  connection alone waits the resume grace first, for the browser to come back);
- ``GET /api/answers`` and ``GET /api/answers/{id}``: answers with their state and text;
- ``GET /api/config``: the default model and timeouts, for the page.

Run it with ``handler_cancellation=True`` (``sselab_reference_app.runner`` does): that is what
turns a browser that went away into a cancelled handler, and so (after the resume grace, when
it does not come back) into a closed upstream request.
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
from .live import LiveAnswer
from .relay import STREAM_HEADERS, ClientGone, Downstream, deliver, generate
from .store import Answer, AnswerStore

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
    live: dict[str, LiveAnswer] = field(default_factory=dict)  # answers being generated

    def start(self, answer: Answer, extra_headers: dict[str, str] | None) -> LiveAnswer:
        """Start the provider call for ``answer`` in a task of its own."""
        flags = self.config.flags
        live = LiveAnswer(answer, 0.0 if flags.no_resume else self.config.resume_grace,
                          keep=flags.no_abort, bounded=not flags.unbounded_readahead)
        assert self.session is not None
        live.task = asyncio.ensure_future(generate(self.session, live, config=self.config,
                                                   extra_headers=extra_headers))
        self.live[answer.id] = live
        live.task.add_done_callback(lambda _: self.live.pop(answer.id, None))
        return live


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
    last = request.headers.get("Last-Event-ID", "")
    if last and not config.flags.no_resume:
        return await resume(request, last)
    try:
        req = parse_chat(await request.read(), config.model)
    except BadRequest as exc:
        return web.json_response({"error": {"message": str(exc), "field": exc.field}},
                                 status=400)
    answer = state.store.new(req.model, req.messages)
    scenario = request.headers.get(SCENARIO_HEADER)
    live = state.start(answer, {SCENARIO_HEADER: scenario} if scenario else None)
    return await send(request, live, after=-1)


async def resume(request: web.Request, last: str) -> web.StreamResponse:
    """The browser reconnects with the id of the last event it has: send what follows."""
    state = request.app[STATE]
    answer_id, _, n = last.rpartition(":")
    answer = state.store.get(answer_id) if n.isdigit() else None
    if answer is None:
        return web.json_response({"error": {"message": "There is no answer to resume for "
                                            f"Last-Event-ID {last!r}.",
                                            "field": "Last-Event-ID"}}, status=404)
    live = state.live.get(answer.id) or LiveAnswer(answer, 0.0)  # finished: from the store
    return await send(request, live, after=int(n))


async def send(request: web.Request, live: LiveAnswer, after: int) -> web.StreamResponse:
    config = request.app[STATE].config
    headers = dict(STREAM_HEADERS)
    if config.flags.no_headers:  # broken on purpose: a buffering proxy will hold the stream back
        headers = {"Content-Type": STREAM_HEADERS["Content-Type"]}
    headers["X-Answer-Id"] = live.answer.id
    out = Downstream(request, headers, buffered=config.flags.buffered)
    with contextlib.suppress(ClientGone):  # noticed by a failed write: nothing to answer
        await deliver(live, out, after=after, keepalive_interval=config.keepalive_interval)
    return out.response


async def stop(request: web.Request) -> web.Response:
    """Stop: close the provider call now; answers the answer's final state."""
    state = request.app[STATE]
    answer = state.store.get(request.match_info["id"])
    if answer is None:
        return web.json_response({"error": {"message": "no such answer", "field": "id"}},
                                 status=404)
    live = state.live.get(answer.id)
    if live is not None and live.task is not None:
        live.stop()
        await asyncio.wait((live.task,), timeout=5)
    return web.json_response({"id": answer.id, "state": answer.state})


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
                              "resume_grace": config.resume_grace,
                              "upstream_api": config.upstream_api,
                              "broken_flags": config.flags.on})


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def _session(app: web.Application) -> Any:
    state = app[STATE]
    timeout = aiohttp.ClientTimeout(total=None, connect=state.config.connect_timeout)
    state.session = aiohttp.ClientSession(timeout=timeout)
    yield
    tasks = [live.task for live in state.live.values() if live.task is not None]
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=2)
    await state.session.close()


def create_app(*, upstream_base_url: str | None = None, api_key: str | None = None,
               model: str | None = None, idle_timeout: float | None = None,
               keepalive_interval: float | None = None, resume_grace: float | None = None,
               upstream_api: str | None = None,
               flags: Flags | str | Iterable[str] | None = None,
               config: Config | None = None) -> web.Application:
    """The reference app. Unset arguments come from the environment
    (``sselab_reference_app.config``); ``idle_timeout=0`` disables the idle timeout; ``flags``
    are the deliberately broken switches (``sselab_reference_app.broken``), for sselab's own
    tests only."""
    if config is None:
        config = make_config(upstream_base_url=upstream_base_url, api_key=api_key, model=model,
                             idle_timeout=idle_timeout, keepalive_interval=keepalive_interval,
                             resume_grace=resume_grace, upstream_api=upstream_api, flags=flags)
    app = web.Application(client_max_size=MAX_BODY)
    app[STATE] = AppState(config)
    app.cleanup_ctx.append(_session)
    app.router.add_get("/", index)
    app.router.add_static("/static/", STATIC, append_version=False)
    app.router.add_post("/api/chat", chat)
    app.router.add_get("/api/answers", list_answers)
    app.router.add_get("/api/answers/{id}", get_answer)
    app.router.add_post("/api/answers/{id}/stop", stop)
    app.router.add_get("/api/config", get_config)
    return app
