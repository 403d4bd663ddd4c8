"""The upstream as an OpenAI Responses ``background`` stream, resumed when the connection drops.

``REFERENCE_UPSTREAM_API=responses``: ``POST {base_url}/responses`` with ``background: true``
and ``stream: true``. The provider then generates whether or not the app is connected, so the
app can survive a broken provider connection without losing a token: it remembers the
response id (``response.created``) and the last ``sequence_number``, and reconnects with
``GET {base_url}/responses/{id}?stream=true&starting_after=N`` (up to ``RESUME_ATTEMPTS`` times,
with backoff), skipping any event it has already had. And because a background response does
not stop when the connection closes, every way out that is not the response's own end cancels
it: ``POST {base_url}/responses/{id}/cancel``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from .config import Config
from .sse import SSEParser
from .store import Answer
from .upstream import Delta, UpstreamError, http_error

RESUME_ATTEMPTS = 3
BACKOFF = (0.1, 0.3, 0.9)  # seconds before each resume attempt
_INCOMPLETE = {"max_output_tokens": "length", "content_filter": "content_filter"}
_cancels: set[asyncio.Task[None]] = set()


def _headers(config: Config, extra: dict[str, str]) -> dict[str, str]:
    headers = {"Accept": "text/event-stream", **extra}
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    return headers


async def _open(session: aiohttp.ClientSession, method: str, url: str, headers: dict[str, str],
                body: dict[str, Any] | None = None) -> aiohttp.ClientResponse:
    try:
        resp = await session.request(method, url, json=body, headers=headers)
    except aiohttp.ClientConnectorError as exc:
        raise UpstreamError("upstream_unreachable",
                            f"Could not reach the model provider ({exc.os_error}).") from None
    if resp.status != 200:
        try:
            raise await http_error(resp)
        finally:
            resp.close()
    return resp


def interpret_event(event: dict[str, Any]) -> Delta:
    """One Responses stream event as a :class:`Delta`."""
    kind = event.get("type")
    if kind == "response.output_text.delta":
        return Delta(text=str(event.get("delta", "")))
    if kind == "response.completed":
        return Delta(finish_reason="stop", done=True)
    if kind == "response.incomplete":
        details = (event.get("response") or {}).get("incomplete_details") or {}
        return Delta(finish_reason=_INCOMPLETE.get(details.get("reason"), "length"), done=True)
    if kind in ("error", "response.failed"):
        error = event.get("error") or (event.get("response") or {}).get("error") or {}
        detail = error.get("message") if isinstance(error, dict) else None
        raise UpstreamError("upstream_error", "The model provider failed mid-answer"
                            + (f": {detail}" if detail else "."))
    return Delta()


async def responses_deltas(session: aiohttp.ClientSession, answer: Answer, config: Config,
                           extra_headers: dict[str, str]) -> AsyncIterator[Delta]:
    base = config.upstream_base_url.rstrip("/")
    headers = _headers(config, extra_headers)
    body = {"model": answer.model, "input": answer.messages, "stream": True,
            "background": True}
    response_id: str | None = None
    last = -1  # the last sequence number had
    attempts = 0
    finished = False
    resp: aiohttp.ClientResponse | None = await _open(session, "POST", base + "/responses",
                                                      headers, body)
    try:
        while True:
            if resp is not None:
                try:
                    async for event in _events(resp):
                        seq = event.get("sequence_number")
                        if isinstance(seq, int):
                            if seq <= last:
                                continue  # had it before the reconnect
                            last = seq
                        if event.get("type") == "response.created":
                            response_id = str((event.get("response") or {}).get("id") or "")
                        delta = interpret_event(event)
                        if delta.text:
                            attempts = 0  # progress: a later break gets its own attempts
                        finished = delta.done
                        yield delta
                        if finished:
                            return
                except aiohttp.ClientError:
                    pass  # the connection broke: resume below
                resp.close()
                resp = None
            if not response_id or attempts >= RESUME_ATTEMPTS:
                raise UpstreamError("upstream_disconnected", "The connection to the model "
                                    "provider broke and the answer could not be resumed.")
            await asyncio.sleep(BACKOFF[attempts])
            attempts += 1
            url = f"{base}/responses/{response_id}?stream=true&starting_after={last}"
            try:
                resp = await _open(session, "GET", url, headers)
            except UpstreamError as err:
                if err.status in (400, 401, 403, 404):  # gone for good: no point retrying
                    raise
    except UpstreamError as err:
        if err.kind == "upstream_error":
            finished = True  # the response failed by itself: nothing to cancel
        raise
    finally:
        if resp is not None:
            resp.close()
        if response_id and not finished:  # a background response runs on unless cancelled
            _cancel(session, f"{base}/responses/{response_id}/cancel", headers)


async def _events(resp: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
    parser = SSEParser()
    while chunk := await resp.content.readany():
        for event in parser.feed(chunk):
            if event.data == "[DONE]":
                continue
            try:
                parsed = json.loads(event.data)
            except ValueError:
                raise UpstreamError("upstream_protocol", "The model provider sent an event "
                                    "that is not valid JSON.") from None
            if isinstance(parsed, dict):
                yield parsed


def _cancel(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> None:
    """Cancel the background response, without holding up whoever is stopping."""
    async def run() -> None:
        try:
            async with session.post(url, headers=headers, timeout=aiohttp.ClientTimeout(5)):
                pass
        except (aiohttp.ClientError, asyncio.TimeoutError):
            pass

    task = asyncio.ensure_future(run())
    _cancels.add(task)
    task.add_done_callback(_cancels.discard)
