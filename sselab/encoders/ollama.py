"""Ollama's native API: ``POST /api/chat`` and ``POST /api/generate``, NDJSON, streamed or not.

The stream is ``application/x-ndjson``: one compact JSON object a line, as the Ollama server
(Go's ``encoding/json``, struct field order) writes it::

    {"model":"m","created_at":"2026-...Z","message":{"role":"assistant","content":"Hel"},"done":false}
    ...
    {"model":"m","created_at":"...","message":{"role":"assistant","content":""},"done_reason":"stop",
     "done":true,"total_duration":...,"load_duration":...,"prompt_eval_count":12,
     "prompt_eval_duration":...,"eval_count":40,"eval_duration":...}

``/api/generate`` lines carry ``"response"`` instead of ``"message"`` and its last line has
``"done"`` before ``"done_reason"`` and a ``context`` list (the two Go structs differ).

* ``TextDelta`` -> a ``content`` (``response``) fragment; ``ThinkingDelta`` -> a ``thinking``
  fragment with empty content;
* tool calls: Ollama parses a call out of the model's output and sends it whole, arguments as a
  JSON object, in one line (``message.tool_calls: [{"id","function":{"index","name",
  "arguments"}}]``) when the call is complete (sselab: at ``ToolCallEnd``); ``done_reason`` stays
  ``"stop"`` after tool calls (only Ollama's OpenAI-compatible layer says ``tool_calls``);
  ``/api/generate`` has no tools and drops them;
* ``Finish`` -> the ``done: true`` line (``stop``, ``length``; ``content_filter`` reads
  ``stop``: Ollama filters nothing); ``script.terminate == False`` omits it;
* ``ErrorEvent`` -> an ``{"error":"..."}`` line, and the stream ends (ollama-python raises
  ``ResponseError`` on it); ``Malformed`` -> its raw text as a line;
* ``"stream"`` defaults to **true** (Ollama's default): ``"stream": false`` gives one object;
* HTTP errors: ``{"error": "..."}`` with the status;
* ``GET /api/tags``, ``POST /api/show`` and ``GET /api/version`` answer from the scenario list:
  every scenario is a model ``NAME:latest``, so clients that look a model up first work; a
  model ``NAME:latest`` picks scenario ``NAME``.

Ollama sends no keep-alive while a model is silent and NDJSON has no comment syntax: a stall's
keep-alive interval is dropped here (ollama-python would fail on a blank line).

Deliberate differences: ``created_at`` is UTC (the server writes local time with its offset);
durations and ``context`` are made up from the script's timing and token counts; ``model``
echoes the request.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Mapping
from typing import Any

from ..script.events import (
    CONTROL_EVENTS,
    ErrorEvent,
    Finish,
    HttpError,
    Malformed,
    Script,
    Stall,
    TextDelta,
    ThinkingDelta,
    Timed,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
)
from ._common import (
    finish_reason,
    json_str,
    model_field,
    parse_arguments,
    started_call,
    usage_counts,
)
from .base import Frame, Inspection, Item, Lookup, RequestInfo, WireFormat, register
from .sse_frame import dumps

DEFAULT_MODEL = "llama3.2"
VERSION = "0.12.6"
DONE_REASONS = {"stop": "stop", "length": "length", "tool_calls": "stop", "content_filter": "stop"}
_ARGS_HINT = "; Ollama sends tool arguments as a JSON object"


def created_at(seconds: float) -> str:
    """RFC 3339 in UTC with nanoseconds, as Go's ``time.Time`` marshals it."""
    ns = round(seconds * 1e9)
    sec, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{frac:09d}Z"


def _generate(req: RequestInfo) -> bool:
    return req.path.rstrip("/").endswith("/generate")


def _model(req: RequestInfo) -> str:
    model = req.body.get("model")
    return model if isinstance(model, str) and model else (req.model or DEFAULT_MODEL)


class _Lines:
    """One response's lines: ``head`` opens every line (model and time), ``text`` is the hot
    path (constant bytes around the escaped fragment)."""

    def __init__(self, script: Script, req: RequestInfo) -> None:
        self.script, self.req = script, req
        self.generate = _generate(req)
        self.model = _model(req)
        self._open = b'{"model":' + json_str(self.model).encode() + b',"created_at":"'
        if self.generate:
            self._text_mid, self._text_tail = b'","response":', b',"done":false}\n'
        else:
            self._text_mid = b'","message":{"role":"assistant","content":'
            self._text_tail = b'},"done":false}\n'

    def when(self, at: float) -> str:
        return created_at(self.req.created + at)

    def text(self, at: float, text: str) -> bytes:
        return (self._open + self.when(at).encode() + self._text_mid + json_str(text).encode()
                + self._text_tail)

    def line(self, obj: dict[str, Any]) -> bytes:
        return dumps(obj).encode() + b"\n"

    def part(self, at: float, **message: Any) -> bytes:
        """A ``done: false`` line with ``message`` fields (chat) or top-level fields (generate)."""
        head: dict[str, Any] = {"model": self.model, "created_at": self.when(at)}
        if self.generate:
            return self.line({**head, "response": "", **message, "done": False})
        return self.line({**head, "message": {"role": "assistant", "content": "", **message},
                          "done": False})

    def final(self, at: float, reason: str, **message: Any) -> dict[str, Any]:
        head: dict[str, Any] = {"model": self.model, "created_at": self.when(at)}
        done_reason = finish_reason(DONE_REASONS, reason)
        if self.generate:
            body = {**head, "response": message.pop("content", ""), **message, "done": True,
                    "done_reason": done_reason, "context": self.context()}
        else:
            body = {**head, "message": {"role": "assistant", "content": "", **message},
                    "done_reason": done_reason, "done": True}
        return body | self.metrics()

    def metrics(self) -> dict[str, int]:
        deltas = [t.at for t in self.script.events
                  if isinstance(t.event, (TextDelta, ThinkingDelta, ToolCallDelta))]
        first, last = (deltas[0], deltas[-1]) if deltas else (0.0, 0.0)
        input_tokens, output_tokens = usage_counts(self.script)
        return {"total_duration": round(last * 1e9) + 1_000_000,
                "load_duration": round(first * 0.25e9), "prompt_eval_count": input_tokens,
                "prompt_eval_duration": round(first * 0.75e9), "eval_count": output_tokens,
                "eval_duration": round((last - first) * 1e9) + 1_000_000}

    def context(self) -> list[int]:
        """Stand-in token ids of the conversation, one per prompt and answer token."""
        digest = hashlib.sha256(f"{self.script.seed}:{self.req.request_id}".encode()).digest()
        n = sum(usage_counts(self.script))
        return [1000 + (digest[i % 32] * 131 + i) % 30000 for i in range(n)]


def _call(index: int, call_id: str, name: str, arguments: str) -> dict[str, Any]:
    args = parse_arguments(f"tool call {index} arguments", arguments, _ARGS_HINT)
    return {"id": call_id, "function": {"index": index, "name": name, "arguments": args}}


def _stream(script: Script, req: RequestInfo) -> Iterator[Item]:
    lines = _Lines(script, req)
    calls: dict[int, list[str]] = {}  # ToolCallStart.index -> [call id, name, arguments so far]
    for timed in script.events:
        ev, at = timed.event, timed.at
        t = type(ev)
        if t is TextDelta:
            yield Frame(at, lines.text(at, ev.text))
        elif t is ThinkingDelta:
            yield Frame(at, lines.part(at, thinking=ev.text))
        elif t is ToolCallStart:
            calls[ev.index] = [ev.call_id, ev.name, ""]
        elif t is ToolCallDelta:
            started_call(calls, ev.index)[2] += ev.arguments
        elif t is ToolCallEnd:
            call = calls.pop(ev.index, None)
            if call is not None and not lines.generate:
                yield Frame(at, lines.part(at, tool_calls=[_call(ev.index, *call)]))
        elif t is Finish:
            if script.terminate:
                yield Frame(at, lines.line(lines.final(at, ev.reason)))
        elif t is ErrorEvent:
            yield Frame(at, lines.line({"error": ev.message}))
            return
        elif t is Malformed:
            yield Frame(at, ev.raw.encode() + b"\n")
        elif t is Stall:
            yield Timed(at, Stall(ev.seconds, None))  # no keep-alive on this wire
        elif isinstance(ev, CONTROL_EVENTS):
            yield timed


def _complete(script: Script, req: RequestInfo) -> dict[str, Any]:
    lines = _Lines(script, req)
    last = max((t.at for t in script.events), default=0.0)
    message: dict[str, Any] = {"content": script.text}
    if script.thinking:
        message["thinking"] = script.thinking
    if script.tool_calls and not lines.generate:
        message["tool_calls"] = [_call(i, c.call_id, c.name, c.arguments)
                                 for i, c in enumerate(script.tool_calls)]
    return lines.final(last, script.finish_reason, **message)


def _error(err: HttpError, req: RequestInfo) -> tuple[dict[str, Any], dict[str, str]]:
    headers = {}
    if err.retry_after is not None:
        headers["retry-after"] = str(max(0, round(err.retry_after)))
    return {"error": err.message}, headers


def scenario_name(model: str) -> str:
    """``NAME:latest`` (how /api/tags lists a scenario) -> ``NAME``."""
    return model.removesuffix(":latest")


def _inspect(body: dict[str, Any], path_params: Mapping[str, str],
             query: Mapping[str, str]) -> Inspection:
    model = model_field(body)
    stream = body.get("stream", True)
    if not isinstance(stream, bool):
        raise ValueError("stream: expected true or false")
    return Inspection(model=scenario_name(model) if model else None, stream=stream)


# --- model lookups ---------------------------------------------------------------------------
_MODIFIED = "2026-01-01T00:00:00Z"


def _details() -> dict[str, Any]:
    return {"parent_model": "", "format": "gguf", "family": "sselab", "families": ["sselab"],
            "parameter_size": "0B", "quantization_level": "none"}


def _tags(scenarios: Mapping[str, str], body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    models = [{"name": f"{name}:latest", "model": f"{name}:latest", "modified_at": _MODIFIED,
               "size": len(description.encode()),
               "digest": hashlib.sha256(name.encode()).hexdigest(), "details": _details()}
              for name, description in sorted(scenarios.items())]
    return 200, {"models": models}


def _show(scenarios: Mapping[str, str], body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    model = body.get("model") or body.get("name")
    name = scenario_name(model) if isinstance(model, str) else ""
    name = name.removeprefix("sselab:").removeprefix("sselab/")
    if name not in scenarios:
        return 404, {"error": f"model '{model}' not found"}
    return 200, {
        "license": "", "modelfile": f"# sselab scenario {name}\nFROM sselab/{name}\n",
        "parameters": "", "template": "{{ .Prompt }}", "system": scenarios[name],
        "details": _details(),
        "model_info": {"general.architecture": "sselab", "general.basename": name,
                       "general.description": scenarios[name]},
        "capabilities": ["completion", "tools", "thinking"], "modified_at": _MODIFIED}


FORMAT = register(WireFormat(
    name="ollama",
    description="Ollama native API (POST /api/chat, /api/generate): NDJSON lines, done: true last",
    routes=(("POST", "/api/chat"), ("POST", "/api/generate")),
    inspect=_inspect,
    stream=_stream,
    complete=_complete,
    error=_error,
    content_type="application/x-ndjson",
    keepalive=b"",
    lookups=(Lookup("GET", "/api/tags", _tags), Lookup("POST", "/api/show", _show),
             Lookup("GET", "/api/version", lambda scenarios, body: (200, {"version": VERSION}))),
))

__all__ = ["FORMAT", "created_at", "scenario_name"]
