"""Getting the answer text (and error / done signals) out of an endpoint's response body.

An extractor is fed the decoded body bytes as they arrive and returns :class:`Piece` values.
Modes (``--extract``):

``auto``          SSE or not by content type; per SSE event, the first shape that matches below,
                  then the JSON path that first yielded text sticks for the rest of the stream;
                  NDJSON (Ollama) and AWS event streams (Bedrock) by content type or by their
                  first bytes (see ``extract_framed.py``)
``text``          the whole body is the answer (``text/plain`` streams)
``sse-data``      SSE; each event's ``data`` is answer text
``sse-json:PATH`` SSE; each event's ``data`` is JSON and PATH (dotted, list indexes allowed:
                  ``choices.0.delta.content``) is the text
``openai``        OpenAI Chat Completions chunks (``choices.0.delta.content``) or Responses events
                  (``response.output_text.delta``)
``vercel``        Vercel AI SDK UI message stream (``text-delta``) or the older data stream
                  protocol (``0:"text"`` lines)

Errors: an SSE event named ``error``, a JSON payload with a top-level ``error`` key, or a
``{"type": "error"}`` payload. Done: an event named done/end/finish/complete/message_stop, a
``[DONE]`` data line, or a ``{"type": "finish"}`` / ``response.completed`` payload.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from ..sse_parse import SSEDecoder, SSEEvent
from .extract_framed import (
    EVENTSTREAM_TYPE,
    NDJSON_TYPES,
    EventStreamReader,
    NdjsonReader,
    Piece,
    sniff_eventstream,
)

MODES = ("auto", "text", "sse-data", "sse-json:PATH", "openai", "vercel")
DONE_EVENTS = frozenset({"done", "end", "finish", "finished", "complete", "completed", "close",
                         "message_stop", "response.completed", "stream_end", "eos"})
TEXT_KEYS = ("text", "content", "delta", "token", "chunk", "value", "textDelta")


@dataclass
class Extractor:
    """Incremental: ``feed(bytes) -> [Piece]``. ``shape`` names what ``auto`` recognised."""

    mode: str = "auto"
    shape: str | None = None
    _sse: SSEDecoder | None = None
    _utf8: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")("replace"))
    _path: tuple[str, ...] | None = None
    _decided: bool = False
    _line: str = ""  # Vercel data stream protocol: partial line
    _comments: int = 0
    _framed: NdjsonReader | EventStreamReader | None = None
    _head: bytes = b""  # the first bytes, while too few to tell an event stream
    last_id: str | None = None  # SSE: the last event id seen (what Last-Event-ID would send)

    def feed(self, data: bytes, content_type: str = "") -> list[Piece]:
        if not self._decided:
            ctype = content_type.split(";")[0].strip().lower()
            if self.mode == "auto" and ctype in ("", "application/octet-stream") and (
                    (self._head + data)[:1] == b"\0" and len(self._head + data) < 12):
                self._head += data  # maybe an event stream: its prelude decides
                return []
            data, self._head = self._head + data, b""
            self._decide(data, content_type)
        if self._framed is not None:
            return self._framed.feed(data)
        if self._sse is None:
            return self._plain(data)
        before = self._sse.comments
        events = self._sse.feed(data)
        if events:
            self.last_id = events[-1].id
        out = [p for ev in events if (p := self._event(ev)) is not None]
        out += [Piece(keepalive=True)] * (self._sse.comments - before)
        return out

    # -- choosing a parser ---------------------------------------------------------------------
    def _decide(self, data: bytes, content_type: str) -> None:
        ctype = content_type.split(";")[0].strip().lower()
        if self.mode == "auto" and self._decide_framed(data, ctype):
            self._decided = True
            return
        if self.mode == "text":
            sse = False
        elif self.mode == "vercel":
            sse = ctype == "text/event-stream" or data.lstrip().startswith((b"data:", b":"))
        elif self.mode == "auto":
            sse = ctype == "text/event-stream" or (
                ctype in ("", "application/octet-stream") and bool(
                    re.match(rb"\s*(data|event|id|retry)?:", data)))
        else:
            sse = True
        if sse:
            self._sse = SSEDecoder()
        if self.mode.startswith("sse-json:"):
            self._path = parse_path(self.mode.split(":", 1)[1])
        self.shape = self.shape or ("sse" if sse else "text")
        if self.mode == "vercel" and not sse:
            self.shape = "vercel-data-stream"
        self._decided = True

    def _decide_framed(self, data: bytes, ctype: str) -> bool:
        """NDJSON (Ollama) or an AWS event stream (Bedrock), by content type or by sniffing."""
        unknown = ctype in ("", "application/octet-stream")
        if ctype == EVENTSTREAM_TYPE or (unknown and sniff_eventstream(data)):
            self._framed, self.shape = EventStreamReader(), "eventstream"
        elif ctype in NDJSON_TYPES or (unknown and data.lstrip().startswith(b"{")):
            self._framed, self.shape = NdjsonReader(), "ndjson"
        return self._framed is not None

    def _plain(self, data: bytes) -> list[Piece]:
        text = self._utf8.decode(data)
        if self.shape != "vercel-data-stream":
            return [Piece(text=text)] if text else []
        self._line += text
        *lines, self._line = self._line.split("\n")
        return [p for line in lines if (p := _data_stream_line(line)) is not None]

    # -- one SSE event -------------------------------------------------------------------------
    def _event(self, ev: SSEEvent) -> Piece | None:
        name = ev.event.lower()
        data = ev.data
        if data.strip() == "[DONE]":
            return Piece(done=True)
        if name == "error":
            return Piece(error=_message(data) or "error event")
        if self.mode == "sse-data":
            return Piece(done=True) if name in DONE_EVENTS else Piece(text=data)
        try:
            obj: Any = json.loads(data)
        except ValueError:
            obj = None
        if obj is None or not isinstance(obj, (dict, list, str)):
            if name in DONE_EVENTS:
                return Piece(done=True)
            if self.mode == "auto" and self._path is None:
                self.shape = "sse-data"
                return Piece(text=data)
            return Piece(keepalive=True) if not data else None
        if isinstance(obj, dict):
            err = _error_of(obj)
            if err is not None:
                return Piece(error=err)
        if name in DONE_EVENTS:
            return Piece(done=True)
        if self.mode == "openai":
            return _openai(obj)
        if self.mode == "vercel":
            return _vercel(obj)
        if self._path is not None:
            text = get_path(obj, self._path)
            return Piece(text=text) if isinstance(text, str) else None
        return self._auto(obj)

    def _auto(self, obj: Any) -> Piece | None:
        if isinstance(obj, str):
            self.shape = "sse-json-string"
            return Piece(text=obj)
        if not isinstance(obj, dict):
            return None
        if "choices" in obj or str(obj.get("type", "")).startswith("response."):
            self.shape = "openai"
            self.mode = "openai"
            return _openai(obj)
        if obj.get("type") in _VERCEL_TYPES:
            self.shape = "vercel"
            self.mode = "vercel"
            return _vercel(obj)
        if "candidates" in obj:  # Gemini-shaped
            self._path = ("candidates", "0", "content", "parts", "0", "text")
            self.shape = "sse-json:" + ".".join(self._path)
            text = get_path(obj, self._path)
            return Piece(text=text) if isinstance(text, str) else None
        if obj.get("type") == "content_block_delta":  # Anthropic-shaped
            self._path = ("delta", "text")
            self.shape = "sse-json:delta.text"
            return Piece(text=str(obj.get("delta", {}).get("text", "")))
        path = _find_text(obj)
        if path is None:
            return None
        self._path = path
        self.shape = "sse-json:" + ".".join(path)
        return Piece(text=get_path(obj, path))


_VERCEL_TYPES = frozenset({"start", "start-step", "text-start", "text-delta", "text-end",
                           "finish-step", "finish", "reasoning-start", "reasoning-delta",
                           "reasoning-end", "tool-input-start", "tool-input-delta",
                           "tool-input-available", "message-metadata", "abort"})


def _find_text(obj: dict[str, Any]) -> tuple[str, ...] | None:
    for key in TEXT_KEYS:
        if isinstance(obj.get(key), str):
            return (key,)
    for key in ("delta", "data", "message"):
        inner = obj.get(key)
        if isinstance(inner, dict):
            for sub in TEXT_KEYS:
                if isinstance(inner.get(sub), str):
                    return (key, sub)
    return None


def _message(data: str) -> str:
    try:
        obj = json.loads(data)
    except ValueError:
        return data.strip()
    if isinstance(obj, dict):
        return _error_of(obj) or str(obj.get("message") or obj.get("errorText") or obj)
    return str(obj)


def _error_of(obj: dict[str, Any]) -> str | None:
    err = obj.get("error")
    if err:
        if isinstance(err, dict):
            return str(err.get("message") or err)
        return str(err)
    if obj.get("type") in ("error", "response.failed"):
        return str(obj.get("errorText") or obj.get("message") or obj.get("error") or "error")
    return None


def _openai(obj: Any) -> Piece | None:
    if not isinstance(obj, dict):
        return None
    kind = str(obj.get("type", ""))
    if kind == "response.output_text.delta":
        return Piece(text=str(obj.get("delta", "")))
    if kind in ("response.completed", "response.incomplete"):
        return Piece(done=True)
    choices = obj.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        choice = choices[0]
        delta = choice.get("delta") or {}
        text = delta.get("content") if isinstance(delta, dict) else None
        if isinstance(text, str) and text:
            return Piece(text=text)
        if choice.get("finish_reason"):
            return Piece(done=True)
    return None


def _vercel(obj: Any) -> Piece | None:
    if not isinstance(obj, dict):
        return None
    kind = obj.get("type")
    if kind == "text-delta":
        text = obj.get("delta", obj.get("textDelta", ""))
        return Piece(text=text if isinstance(text, str) else "")
    if kind == "finish":
        return Piece(done=True)
    return None


def _data_stream_line(line: str) -> Piece | None:
    """One line of the Vercel AI SDK data stream protocol (``0:"text"``, ``3:"error"``...)."""
    code, sep, payload = line.partition(":")
    if not sep:
        return None
    try:
        value = json.loads(payload)
    except ValueError:
        return None
    if code == "0" and isinstance(value, str):
        return Piece(text=value)
    if code == "3":
        return Piece(error=str(value))
    if code == "d":
        return Piece(done=True)
    return None


def parse_path(path: str) -> tuple[str, ...]:
    parts = tuple(p for p in path.strip().split(".") if p)
    if not parts:
        raise ConfigError("--extract: sse-json needs a path, e.g. sse-json:choices.0.delta.content")
    return parts


def get_path(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if isinstance(obj, list) and key.isdigit() and int(key) < len(obj):
            obj = obj[int(key)]
        elif isinstance(obj, dict) and key in obj:
            obj = obj[key]
        else:
            return None
    return obj


def validate_mode(mode: str) -> str:
    """The mode itself, or a ConfigError naming ``--extract``."""
    if mode in MODES and mode != "sse-json:PATH":
        return mode
    if mode.startswith("sse-json:"):
        parse_path(mode.split(":", 1)[1])
        return mode
    raise ConfigError(f"--extract: unknown mode {mode!r}; use one of auto, text, sse-data, "
                      "sse-json:PATH, openai, vercel")


def extractor_factory(mode: str) -> Callable[[], Extractor]:
    validate_mode(mode)
    return lambda: Extractor(mode)
