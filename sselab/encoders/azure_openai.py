"""Azure OpenAI Chat Completions: ``POST /openai/deployments/{deployment}/chat/completions
?api-version=...`` and the v1 path ``POST /openai/v1/chat/completions``.

The deployment name (or, on the v1 path, ``model``) picks the scenario. The stream is OpenAI's
(``openai_chat.py``) as Azure relays it, from captured Azure streams (2023-2025):

* a first chunk with empty ``choices`` and the prompt's filter verdict, before the role chunk::

    data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":
           [{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,...},...}}]}

* every choice carries ``content_filter_results``: the four categories on content chunks, ``{}``
  on the role, tool-call and finish chunks; a ``content_filter`` finish marks ``violence``
  filtered (severity ``medium``);
* keys in alphabetical order; no ``obfuscation`` and no ``service_tier``; ``data: [DONE]``
  last; the usage chunk (``stream_options.include_usage``) as OpenAI's;
* ``api-version`` is required on the deployments path (a clear 400 without it), optional on v1;
* errors: OpenAI's error object; a 429 says ``code: "429"`` as Azure's quota errors do; headers
  add ``apim-request-id`` and ``x-ms-region``.

Keep-alives while stalled are SSE comments: Azure sends none while a model is silent, so a
``stall`` keep-alive models a gateway in front of it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ..script.events import HttpError, Script
from ._params import check_chat
from .base import Frame, Inspection, Item, RequestInfo, WireFormat, register
from .openai_chat import OPENAI_CHAT, openai_error, openai_headers
from .sse_frame import sse

SAFE = {"filtered": False, "severity": "safe"}
CATEGORIES = ("hate", "self_harm", "sexual", "violence")
_DATA = b"data: "


def filter_results(filtered: str | None = None) -> dict[str, Any]:
    """The four categories, all safe but ``filtered`` (marked filtered, severity medium)."""
    return {c: ({"filtered": True, "severity": "medium"} if c == filtered else dict(SAFE))
            for c in CATEGORIES}


def prompt_filter_chunk() -> bytes:
    return _chunk({"choices": [], "created": 0, "id": "", "model": "", "object": "",
                   "prompt_filter_results": [{"prompt_index": 0,
                                              "content_filter_results": filter_results()}]})


def _chunk(obj: dict[str, Any]) -> bytes:
    return sse(json.dumps(obj, separators=(",", ":"), ensure_ascii=False, sort_keys=True))


def azure_chunk(obj: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI chunk as Azure sends it (filter results on each choice, no OpenAI extras)."""
    obj.pop("obfuscation", None)
    obj.pop("service_tier", None)
    for choice in obj.get("choices") or []:
        delta = choice.get("delta") or {}
        if choice.get("finish_reason") == "content_filter":
            choice["content_filter_results"] = filter_results("violence")
        elif delta.get("content"):
            choice["content_filter_results"] = filter_results()
        else:
            choice["content_filter_results"] = {}
    return obj


def _stream(script: Script, req: RequestInfo) -> Iterator[Item]:
    first = True
    for item in OPENAI_CHAT.stream(script, req):
        if not isinstance(item, Frame):
            yield item
            continue
        if first:
            first = False
            yield Frame(item.at, prompt_filter_chunk())
        data = item.data.removeprefix(_DATA).removesuffix(b"\n\n")
        try:
            obj = json.loads(data)
        except ValueError:  # [DONE] and Malformed frames go out as they are
            obj = None
        if isinstance(obj, dict) and "choices" in obj:
            yield Frame(item.at, _chunk(azure_chunk(obj)))
        else:
            yield item


def _complete(script: Script, req: RequestInfo) -> dict[str, Any]:
    body = OPENAI_CHAT.complete(script, req)
    body.pop("service_tier", None)
    body["prompt_filter_results"] = [{"prompt_index": 0,
                                      "content_filter_results": filter_results()}]
    for choice in body["choices"]:
        choice["content_filter_results"] = filter_results(
            "violence" if choice.get("finish_reason") == "content_filter" else None)
    return body


def azure_headers(req: RequestInfo) -> dict[str, str]:
    return {**openai_headers(req), "apim-request-id": req.request_id, "x-ms-region": "sselab"}


def azure_error(err: HttpError, req: RequestInfo) -> tuple[dict[str, Any], dict[str, str]]:
    body, headers = openai_error(err, req)
    if err.status == 429:
        body = {"error": {"code": "429", "message": err.message}}
    return body, {**headers, "apim-request-id": req.request_id, "x-ms-region": "sselab"}


def inspect_azure(body: dict[str, Any], path_params: Mapping[str, str],
                  query: Mapping[str, str],
                  check: Callable[[Mapping[str, Any]], None] = check_chat) -> Inspection:
    """The deployment (deployments path) or ``model`` (v1 path) and ``stream``; wrongly typed
    parameters are OpenAI's 400 (``check``: Chat Completions' by default)."""
    deployment = path_params.get("deployment")
    if deployment is not None and not query.get("api-version"):
        raise ValueError("api-version: missing; Azure needs ?api-version=... on the "
                         "/openai/deployments/ path")
    check(body)
    model = deployment or body.get("model")
    return Inspection(model=model if isinstance(model, str) else None,
                      stream=body.get("stream") is True)


FORMAT = register(WireFormat(
    name="azure_openai",
    description="Azure OpenAI Chat Completions: prompt_filter_results first, "
                "content_filter_results on choices",
    routes=(("POST", "/openai/deployments/{deployment}/chat/completions"),
            ("POST", "/openai/v1/chat/completions")),
    inspect=inspect_azure,
    stream=_stream,
    complete=_complete,
    error=azure_error,
    headers=azure_headers,
    content_type="text/event-stream; charset=utf-8",
))

__all__ = ["FORMAT", "azure_chunk", "azure_error", "azure_headers", "filter_results",
           "inspect_azure"]
