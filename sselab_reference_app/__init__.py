"""sselab's reference streaming chat: an aiohttp backend and a static page that do it right.

It streams tokens to the page as they come, surfaces a mid-stream error without losing what
already arrived, lets the user stop, and makes Stop abort the provider call so tokens stop being
paid for. It is self-contained (it never imports ``sselab``): copy the package and point
``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` at any OpenAI-compatible provider.

Browser-facing protocol
=======================

``POST /api/chat`` with ``{"messages": [{"role": "user", "content": "Hi"}], "model": "..."}``
(``model`` optional; ``{"prompt": "Hi"}`` is short for one user message). An ``X-Sselab-Scenario``
request header is forwarded upstream. A body the app cannot use gets HTTP 400 and
``{"error": {"message": ..., "field": ...}}``. Anything else gets HTTP 200 with::

    Content-Type: text/event-stream; charset=utf-8
    Cache-Control: no-cache, no-transform
    X-Accel-Buffering: no
    X-Answer-Id: ans_...
    (chunked: no Content-Length, no Content-Encoding)

and a stream of events, each ``event:`` + ``id: ANSWER_ID:N`` (N from 0, the ``start`` event)
+ one ``data:`` line of JSON + a blank line::

    event: start      data: {"answer_id": "ans_...", "model": "..."}          first, at once
    event: token      data: {"text": "..."}                                   0..n times
    event: done       data: {"finish_reason": "stop", "answer_id": "ans_..."}  last, or
    event: error      data: {"message": "...", "kind": "...", "answer_id": "ans_..."
                             [, "status": 429, "retry_after": "2"]}            last
    : keep-alive                                   a comment, when idle (ignore it)

``error.kind`` is one of ``upstream_error`` (the provider's own mid-stream error event),
``upstream_http`` (the provider answered an HTTP error; ``status`` says which),
``upstream_disconnected`` (the provider's stream broke or ended early), ``upstream_unreachable``,
``upstream_protocol`` (data the app cannot read), ``timeout`` (no data for the idle timeout),
``stopped`` (stopped while the browser was away) or ``internal`` (a bug in the app).
A stream that ends without ``done`` or ``error`` was cut in transit: the client resumes it by
sending the same request again with ``Last-Event-ID: ANSWER_ID:N`` (the last id it has); the
app answers the events after N, then the rest live, or 404 when it has no such answer. The
provider call waits ``REFERENCE_RESUME_GRACE`` seconds for a dropped browser to come back;
``POST /api/answers/{id}/stop`` stops it at once.
Tokens already sent stay valid after an ``error``. ``GET /api/answers/{id}`` returns the stored
answer: ``state`` (``streaming``, ``completed``, ``stopped``, ``failed``), ``text`` (partial
when stopped or failed), ``finish_reason``, ``error``.
"""

from .app import create_app, parse_chat
from .broken import FLAG_NAMES, Flags
from .config import Config, ConfigError, make_config
from .runner import AppServer, AppThread
from .sse import SSEEvent, SSEParser
from .store import Answer, AnswerStore

__all__ = [
    "FLAG_NAMES",
    "Answer",
    "AnswerStore",
    "AppServer",
    "AppThread",
    "Config",
    "ConfigError",
    "Flags",
    "SSEEvent",
    "SSEParser",
    "create_app",
    "make_config",
    "parse_chat",
]
