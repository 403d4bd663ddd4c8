"""OpenAI Chat Completions (and Azure OpenAI's relay of it): ``chat.completion.chunk`` events.

``delta.content`` is text, ``delta.reasoning_content`` / ``delta.reasoning`` (what compatible
servers send) thinking, ``delta.tool_calls[]`` tool calls by their ``index``; ``finish_reason``
the finish, a ``usage`` object the usage, ``{"error": ...}`` a mid-stream error, ``[DONE]`` the
end marker. Choices other than the first, and Azure's filter-only chunks, carry nothing here.
"""

from __future__ import annotations

from typing import Any

from ._common import Builder, TimedPieces, kind_of, loads, sse

FORMATS = ("openai_chat", "azure_openai")
STREAMS = True
FINISH = {"stop": "stop", "length": "length", "tool_calls": "tool_calls",
          "function_call": "tool_calls", "content_filter": "content_filter"}


def error(b: Builder, at: float, err: Any) -> None:
    err = err if isinstance(err, dict) else {"message": str(err)}
    b.error(at, err.get("message"), kind_of(err.get("code"), err.get("type")))


def _usage(b: Builder, at: float, usage: Any) -> None:
    if isinstance(usage, dict):
        b.usage(at, usage.get("prompt_tokens"), usage.get("completion_tokens"))


def chunk(b: Builder, at: float, obj: dict[str, Any]) -> None:
    if obj.get("error"):
        error(b, at, obj["error"])
        return
    choices = obj.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else None
    if isinstance(choice, dict) and choice.get("index", 0) == 0:
        delta = choice.get("delta") or choice.get("message") or {}
        if isinstance(delta, dict):
            b.thinking(at, delta.get("reasoning_content") or delta.get("reasoning"))
            b.text(at, delta.get("content"))
            for i, call in enumerate(delta.get("tool_calls") or []):
                if not isinstance(call, dict):
                    continue
                key = call.get("index", i)
                fn = call.get("function") or {}
                if call.get("id") or fn.get("name"):
                    b.tool_start(at, key, call.get("id"), fn.get("name"))
                b.tool_delta(at, key, fn.get("arguments"))
        if choice.get("finish_reason"):
            b.finish(at, FINISH.get(choice["finish_reason"], "stop"))
    _usage(b, at, obj.get("usage"))


def stream(b: Builder, pieces: TimedPieces) -> None:
    for at, event in sse(pieces):
        if event.data.strip() == "[DONE]":
            b.terminated = True
            continue
        obj = loads(event.data)
        if isinstance(obj, dict):
            chunk(b, at, obj)
        else:
            b.malformed(at, event.data)


def body(b: Builder, obj: dict[str, Any], at: float) -> None:
    chunk(b, at, obj)
    b.terminated = True
