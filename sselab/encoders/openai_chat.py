"""OpenAI Chat Completions (``POST /v1/chat/completions``), streaming and not.

Faithful to captured api.openai.com streams (2025-2026):

- one ``data: {json}`` event per ``chat.completion.chunk``, keys in the API's order (``id``,
  ``object``, ``created``, ``model``, ``service_tier``, ``system_fingerprint``, ``choices``,
  ``usage``, ``obfuscation``); compact JSON with non-ASCII as raw UTF-8; ``data: [DONE]`` last;
- a separate first chunk ``{"role":"assistant","content":"","refusal":null}`` before the first
  token; when the answer opens with a tool call the role rides on that tool-call chunk
  (``"content":null``) as the API does;
- tool calls: first delta carries ``index``/``id``/``type``/``function.name`` and empty
  ``arguments``; then ``{"index":i,"function":{"arguments":"..."}}`` fragments;
- the finish chunk has an empty ``delta``; with ``stream_options.include_usage`` every chunk
  carries ``"usage":null`` and a final chunk with ``"choices":[]`` carries the usage;
- ``obfuscation`` padding (on unless ``stream_options.include_obfuscation`` is false); the API
  pads content chunks to a multiple of 8 characters, sselab does the same for text and argument
  fragments and uses seeded random lengths elsewhere;
- a mid-stream error is ``data: {"error": {message, type, param, code}}`` (the openai SDK raises
  ``APIError`` on it); HTTP errors use the API's error body and ``x-request-id``.

Deliberate differences: ``model`` echoes the requested name (the API answers with a dated
snapshot); ids and ``system_fingerprint`` are seeded from ``Script.seed`` and the request id;
one choice only (``n`` is ignored); reasoning (``ThinkingDelta``) is dropped, as the API sends
none on this endpoint; after a mid-stream error the stream ends without ``[DONE]`` (one client
report, go-openai#396, shows the API following it with ``[DONE]``; no SDK depends on either);
``retry-after`` is whole seconds and ``retry-after-ms`` carries the exact delay, which the
openai SDK prefers.
"""

from __future__ import annotations

import math
import random
import string
from collections.abc import Iterator, Mapping
from typing import Any

from ..script.events import (
    CONTROL_EVENTS,
    ErrorEvent,
    Finish,
    HttpError,
    Malformed,
    Script,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
)
from ._common import json_str, usage_counts
from ._params import check_chat
from .base import Frame, Inspection, Item, RequestInfo, WireFormat, register
from .sse_frame import dumps, sse, sse_json

DEFAULT_MODEL = "gpt-4o-mini"
DONE = b"data: [DONE]\n\n"
_ALNUM = string.ascii_letters + string.digits

# neutral error kind -> OpenAI error (type, code)
ERROR_TYPES: dict[str, tuple[str, str | None]] = {
    "invalid_request": ("invalid_request_error", None),
    "authentication": ("invalid_request_error", "invalid_api_key"),
    "permission": ("invalid_request_error", None),
    "not_found": ("invalid_request_error", "model_not_found"),
    "rate_limit": ("requests", "rate_limit_exceeded"),
    "server_error": ("server_error", None),
    "unavailable": ("service_unavailable_error", "server_is_overloaded"),
    "overloaded": ("service_unavailable_error", "server_is_overloaded"),
}


# --- shared with openai_responses --------------------------------------------------------------
def error_object(message: str, kind: str) -> dict[str, Any]:
    type_, code = ERROR_TYPES.get(kind, ERROR_TYPES["server_error"])
    return {"message": message, "type": type_, "param": None, "code": code}


def openai_headers(req: RequestInfo) -> dict[str, str]:
    return {"x-request-id": req.request_id, "openai-version": "2020-10-01"}


def _duration(seconds: float) -> str:
    """OpenAI's reset-header style: ``120ms``, ``1.5s``, ``6m0s``."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{rest:g}s" if minutes else f"{rest:g}s"


def openai_error(err: HttpError, req: RequestInfo) -> tuple[dict[str, Any], dict[str, str]]:
    headers = openai_headers(req)
    if err.retry_after is not None:
        headers["retry-after"] = str(max(0, math.ceil(err.retry_after)))
        headers["retry-after-ms"] = str(max(0, round(err.retry_after * 1000)))
    if err.status == 429:
        reset = _duration(err.retry_after if err.retry_after is not None else 1.0)
        headers.update({
            "x-ratelimit-limit-requests": "500", "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": reset, "x-ratelimit-limit-tokens": "200000",
            "x-ratelimit-remaining-tokens": "200000", "x-ratelimit-reset-tokens": "0s",
        })
    obj = error_object(err.message, err.kind)
    if err.param is not None or err.code is not None:
        obj.update(param=err.param, code=err.code)
    return {"error": obj}, headers


def inspect_body(body: dict[str, Any], path_params: Mapping[str, str],
                 query: Mapping[str, str]) -> Inspection:
    """``model`` and ``stream`` (default false, as in the API) from a JSON body; a wrongly typed
    ``model``, ``stream`` or ``messages`` is the API's 400 (:class:`~._params.InvalidParam`)."""
    check_chat(body)
    return inspection(body)


def inspection(body: dict[str, Any]) -> Inspection:
    """``model`` and ``stream`` of a body whose types were checked (null reads as absent)."""
    model = body.get("model")
    return Inspection(model=model if isinstance(model, str) else None,
                      stream=body.get("stream") is True)


def seeded(script: Script, req: RequestInfo) -> random.Random:
    return random.Random(f"{script.seed}/{req.request_id}")


class Padding:
    """Deterministic ``obfuscation`` strings: slices of one seeded alphanumeric pool."""

    __slots__ = ("pool", "pos")

    def __init__(self, rng: random.Random) -> None:
        self.pool = "".join(rng.choices(_ALNUM, k=64)) * 2
        self.pos = 0

    def take(self, n: int) -> str:
        pos = self.pos
        self.pos = (pos + 11) % 64
        return self.pool[pos:pos + n]


# --- chat chunks ---------------------------------------------------------------------------------
def _usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt, "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0,
                                      "rejected_prediction_tokens": 0},
    }


def _close(mid: bytes, obfuscation: str | None) -> bytes:
    if obfuscation is None:
        return mid + b"}\n\n"
    return mid + b',"obfuscation":"' + obfuscation.encode() + b'"}\n\n'


class Chunks:
    """Renders one stream's chunks. ``chunk`` is the generic path (a dict through ``dumps``);
    ``text`` and ``arguments`` are the hot path: constant bytes around the escaped fragment,
    byte-identical to ``chunk`` for the same delta."""

    def __init__(self, script: Script, req: RequestInfo) -> None:
        rng = seeded(script, req)
        opts = req.body.get("stream_options")
        opts = opts if isinstance(opts, dict) else {}
        self.include_usage = opts.get("include_usage") is True
        self.obfuscate = opts.get("include_obfuscation") is not False
        self.padding = Padding(rng)
        self.head = {
            "id": "chatcmpl-" + "".join(rng.choices(_ALNUM, k=29)),
            "object": "chat.completion.chunk",
            "created": req.created,
            "model": req.model or DEFAULT_MODEL,
            "service_tier": "default",
            "system_fingerprint": f"fp_{rng.getrandbits(40):010x}",
        }
        head = dumps(self.head)[:-1].encode()
        self._text_prefix = b"data: " + head + b',"choices":[{"index":0,"delta":{"content":'
        self._args_prefix = b"data: " + head + b',"choices":[{"index":0,"delta":{"tool_calls":['
        self._mid = (b'},"logprobs":null,"finish_reason":null}]'
                     + (b',"usage":null' if self.include_usage else b""))
        self._args_mid = b"}}]" + self._mid
        self._args_prefixes: dict[int, bytes] = {}

    def pad(self, fragment: str | None = None) -> str | None:
        """The next obfuscation string (None when disabled): content pads to a multiple of 8."""
        if not self.obfuscate:
            return None
        n = (-len(fragment)) % 8 if fragment is not None else 1 + self.padding.pos % 12
        return self.padding.take(n)

    def chunk(self, delta: dict[str, Any] | None, finish_reason: str | None = None, *,
              obfuscation: str | None = None, usage: dict[str, Any] | None = None) -> bytes:
        """A chunk with one choice (``delta``) or, when ``delta`` is None, the usage chunk."""
        body = dict(self.head)
        body["choices"] = [] if delta is None else [
            {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]
        if self.include_usage:
            body["usage"] = usage
        if obfuscation is not None:
            body["obfuscation"] = obfuscation
        return sse_json(body)

    def text(self, text: str, obfuscation: str | None) -> bytes:
        return self._text_prefix + json_str(text).encode() + _close(self._mid, obfuscation)

    def arguments(self, index: int, fragment: str, obfuscation: str | None) -> bytes:
        prefix = self._args_prefixes.get(index)
        if prefix is None:
            prefix = self._args_prefix + b'{"index":%d,"function":{"arguments":' % index
            self._args_prefixes[index] = prefix
        return prefix + json_str(fragment).encode() + _close(self._args_mid, obfuscation)


def _stream(script: Script, req: RequestInfo) -> Iterator[Item]:
    ch = Chunks(script, req)
    opened = failed = usage_sent = False
    last_at = 0.0
    for timed in script.events:
        ev, at = timed.event, timed.at
        last_at = max(last_at, at)
        if isinstance(ev, CONTROL_EVENTS):
            yield timed
            continue
        if failed:
            continue
        if not opened and isinstance(ev, (TextDelta, ToolCallDelta, Finish)):
            opened = True
            yield Frame(at, ch.chunk({"role": "assistant", "content": "", "refusal": None},
                                     obfuscation=ch.pad()))
        if isinstance(ev, TextDelta):
            yield Frame(at, ch.text(ev.text, ch.pad(ev.text)))
        elif isinstance(ev, ToolCallDelta):
            yield Frame(at, ch.arguments(ev.index, ev.arguments, ch.pad(ev.arguments)))
        elif isinstance(ev, ToolCallStart):
            call = {"index": ev.index, "id": ev.call_id, "type": "function",
                    "function": {"name": ev.name, "arguments": ""}}
            delta = ({"tool_calls": [call]} if opened else
                     {"role": "assistant", "content": None, "tool_calls": [call], "refusal": None})
            opened = True
            yield Frame(at, ch.chunk(delta, obfuscation=ch.pad()))
        elif isinstance(ev, Finish):
            yield Frame(at, ch.chunk({}, ev.reason, obfuscation=ch.pad()))
            if ch.include_usage:
                usage_sent = True
                yield Frame(at, ch.chunk(None, usage=_usage(*usage_counts(script)),
                                         obfuscation=ch.pad()))
        elif isinstance(ev, ErrorEvent):
            failed = True
            yield Frame(at, sse_json({"error": error_object(ev.message, ev.kind)}))
        elif isinstance(ev, Malformed):
            yield Frame(at, sse(ev.raw))
        # ThinkingDelta, ToolCallEnd, Usage: nothing on this wire
    if script.terminate and not failed:
        if ch.include_usage and not usage_sent:
            yield Frame(last_at, ch.chunk(None, usage=_usage(*usage_counts(script)),
                                          obfuscation=ch.pad()))
        yield Frame(last_at, DONE)


def _complete(script: Script, req: RequestInfo) -> dict[str, Any]:
    head = Chunks(script, req).head
    message: dict[str, Any] = {"role": "assistant", "content": script.text or None}
    if script.tool_calls:
        message["tool_calls"] = [
            {"id": c.call_id, "type": "function",
             "function": {"name": c.name, "arguments": c.arguments}}
            for c in script.tool_calls]
    message.update(refusal=None, annotations=[])
    return {
        "id": head["id"], "object": "chat.completion", "created": head["created"],
        "model": head["model"],
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": script.finish_reason}],
        "usage": _usage(*usage_counts(script)),
        "service_tier": "default", "system_fingerprint": head["system_fingerprint"],
    }


OPENAI_CHAT = register(WireFormat(
    name="openai_chat",
    description="OpenAI Chat Completions: chat.completion.chunk events, data: [DONE]",
    routes=(("POST", "/v1/chat/completions"),),
    inspect=inspect_body,
    stream=_stream,
    complete=_complete,
    error=openai_error,
    headers=openai_headers,
    content_type="text/event-stream; charset=utf-8",
))
