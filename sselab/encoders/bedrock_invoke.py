"""AWS Bedrock InvokeModel for Anthropic models:
``POST /model/{modelId}/invoke-with-response-stream`` (binary event stream) and
``POST /model/{modelId}/invoke`` (the model's own JSON body).

Each Anthropic Messages stream event (see ``anthropic.py``) travels base64-encoded in one
``chunk`` event: ``{"bytes":"eyJ0eXBlIjoibWVzc2FnZV9zdGFydCIs...","p":"abcd"}``. As on Bedrock:
no ``ping`` events, message ids ``msg_bdrk_01...``, and ``message_stop`` carries
``amazon-bedrock-invocationMetrics`` (``inputTokenCount``, ``outputTokenCount``,
``invocationLatency``, ``firstByteLatency``). The request body is Anthropic's without ``model``
or ``stream`` (``anthropic_version: bedrock-2023-05-31``); the model id in the path picks the
scenario.

``ErrorEvent`` -> an exception frame instead of Anthropic's ``event: error`` (see
``_bedrock.py``); ``Malformed`` -> a ``chunk`` whose decoded bytes are the broken JSON (the
event stream frame itself is sound); ``script.terminate == False`` omits the ``message_stop``
chunk. A stall sends nothing (no keep-alive exists).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from typing import Any

from ..script.events import ErrorEvent, Script
from . import _bedrock
from ._common import usage_counts
from .anthropic import FORMAT as ANTHROPIC
from .base import Frame, Inspection, Item, RequestInfo, WireFormat, register

DEFAULT_MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"
_DATA = b"\ndata: "


def _anthropic_req(req: RequestInfo) -> RequestInfo:
    return RequestInfo(req.request_id, "anthropic", req.method, req.path,
                       req.model or DEFAULT_MODEL, req.stream, req.body, req.query, req.headers,
                       req.path_params, req.created)


def _bedrock_id(obj: dict[str, Any]) -> dict[str, Any]:
    message = obj.get("message")
    if isinstance(message, dict) and str(message.get("id", "")).startswith("msg_01"):
        message["id"] = "msg_bdrk_" + message["id"].removeprefix("msg_")
    return obj


def _stream(script: Script, req: RequestInfo) -> Iterator[Item]:
    pad = _bedrock.Padding(script, req)
    error = next((t.event for t in script.events if isinstance(t.event, ErrorEvent)), None)
    first: float | None = None
    for item in ANTHROPIC.stream(script, _anthropic_req(req)):
        if not isinstance(item, Frame):
            yield _bedrock.no_keepalive(item)
            continue
        name, _, data = item.data.removeprefix(b"event: ").partition(_DATA)
        data = data.removesuffix(b"\n\n")
        if name == b"ping":
            continue
        if name == b"error" and error is not None:
            yield Frame(item.at, _bedrock.exception_frame(error.kind, error.message))
            return
        try:
            obj = _bedrock_id(json.loads(data))
        except ValueError:  # a Malformed event: its broken bytes go in the chunk as they are
            obj = None
        if obj is not None:
            if name == b"content_block_delta" and first is None:
                first = item.at
            if name == b"message_stop":
                inp, out = usage_counts(script)
                last = round(item.at * 1000)
                obj["amazon-bedrock-invocationMetrics"] = {
                    "inputTokenCount": inp, "outputTokenCount": out, "invocationLatency": last,
                    "firstByteLatency": round((first or 0.0) * 1000)}
            data = _bedrock.compact(obj)
        yield Frame(item.at, _bedrock.event(
            "chunk", {"bytes": base64.b64encode(data).decode()}, pad))


def _complete(script: Script, req: RequestInfo) -> dict[str, Any]:
    return _bedrock_id({"message": ANTHROPIC.complete(script, _anthropic_req(req))})["message"]


def _inspect(body: dict[str, Any], path_params: Mapping[str, str],
             query: Mapping[str, str]) -> Inspection:
    return _bedrock.inspect_path(path_params)


def _headers(req: RequestInfo) -> dict[str, str]:
    return {**_bedrock.headers(req), "X-Amzn-Bedrock-Content-Type": "application/json"}


FORMAT = register(WireFormat(
    name="bedrock_invoke",
    description="AWS Bedrock InvokeModel(WithResponseStream), Anthropic events in base64 chunks",
    routes=(("POST", "/model/{modelId}/{action:invoke-with-response-stream|invoke}"),),
    inspect=_inspect,
    stream=_stream,
    complete=_complete,
    error=_bedrock.error,
    headers=_headers,
    content_type=_bedrock.CONTENT_TYPE,
    keepalive=b"",
))

__all__ = ["FORMAT"]
