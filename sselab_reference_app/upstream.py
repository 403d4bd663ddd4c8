"""The upstream: an OpenAI-compatible ``POST {base_url}/chat/completions`` with ``stream: true``.

:func:`open_stream` sends the request and returns the open response once its status says a
stream follows; any other answer becomes an :class:`UpstreamError`. :func:`interpret` turns one
parsed SSE event into a :class:`Delta` (text, finish reason, or the ``[DONE]`` terminator) and
raises :class:`UpstreamError` on the provider's own mid-stream error event or on data it cannot
read. Only the text of the first choice is relayed; tool calls and other fields are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from .sse import SSEEvent

MAX_ERROR_BODY = 64 * 1024


class UpstreamError(Exception):
    """The upstream failed; ``kind`` and ``message`` go to the browser as an error event."""

    def __init__(self, kind: str, message: str, status: int | None = None,
                 retry_after: str | None = None) -> None:
        super().__init__(message)
        self.kind, self.message, self.status, self.retry_after = kind, message, status, retry_after

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message, "kind": self.kind}
        if self.status is not None:
            out["status"] = self.status
        if self.retry_after is not None:
            out["retry_after"] = self.retry_after
        return out


@dataclass(frozen=True, slots=True)
class Delta:
    text: str = ""
    finish_reason: str | None = None
    done: bool = False  # the ``data: [DONE]`` terminator


DONE = Delta(done=True)


async def open_stream(session: aiohttp.ClientSession, base_url: str, api_key: str, model: str,
                      messages: list[dict[str, str]],
                      extra_headers: Mapping[str, str] | None = None) -> aiohttp.ClientResponse:
    """Start the streaming request; the caller owns (and must close) the response."""
    headers = {"Accept": "text/event-stream", **(extra_headers or {})}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    body = {"model": model, "messages": messages, "stream": True}
    try:
        resp = await session.post(base_url.rstrip("/") + "/chat/completions", json=body,
                                  headers=headers)
    except aiohttp.ClientConnectorError as exc:
        raise UpstreamError("upstream_unreachable",
                            f"Could not reach the model provider ({exc.os_error}).") from None
    if resp.status != 200:
        try:
            raise await http_error(resp)
        finally:
            resp.close()
    if resp.content_type != "text/event-stream":
        resp.close()
        raise UpstreamError("upstream_protocol", "The model provider did not answer with a "
                            f"stream (Content-Type: {resp.content_type or 'none'}).")
    return resp


async def http_error(resp: aiohttp.ClientResponse) -> UpstreamError:
    detail = ""
    try:
        raw = await resp.content.read(MAX_ERROR_BODY)
        error = json.loads(raw).get("error")
        detail = str(error.get("message") if isinstance(error, dict) else error or "")
    except (ValueError, AttributeError, aiohttp.ClientError):
        pass
    message = f"The model provider answered HTTP {resp.status}" + (f": {detail}" if detail
                                                                    else ".")
    return UpstreamError("upstream_http", message, resp.status, resp.headers.get("Retry-After"))


def interpret(event: SSEEvent) -> Delta:
    """One ``chat.completion.chunk`` event (or ``[DONE]``) as a :class:`Delta`."""
    if event.data == "[DONE]":
        return DONE
    try:
        chunk = json.loads(event.data)
    except ValueError:
        raise UpstreamError("upstream_protocol",
                            "The model provider sent an event that is not valid JSON.") from None
    if not isinstance(chunk, dict):
        raise UpstreamError("upstream_protocol", "The model provider sent an unexpected event.")
    if "error" in chunk or event.event == "error":
        error = chunk.get("error")
        detail = error.get("message") if isinstance(error, dict) else error
        raise UpstreamError("upstream_error", "The model provider failed mid-answer"
                            + (f": {detail}" if detail else "."))
    choices = chunk.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return Delta()  # e.g. the usage chunk, whose choices list is empty
    choice = choices[0]
    delta = choice.get("delta")
    text = delta.get("content") if isinstance(delta, dict) else None
    reason = choice.get("finish_reason")
    return Delta(text if isinstance(text, str) else "", reason if isinstance(reason, str)
                 else None)
