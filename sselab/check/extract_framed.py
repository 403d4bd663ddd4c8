"""The extractor's readers for bodies that are not SSE: NDJSON lines (Ollama's native API) and
AWS event streams (Bedrock ConverseStream and InvokeModelWithResponseStream), plus the
:class:`Piece` every reader returns.

NDJSON: one JSON object a line; text from ``message.content`` (Ollama chat), ``response``
(Ollama generate) or a ``text``/``content``/``delta`` key; ``{"error": ...}`` is an error and
``"done": true`` the end. Event stream: ``contentBlockDelta`` text (Converse), ``chunk`` events
whose base64 ``bytes`` hold the model's own events (Anthropic ``content_block_delta``, Titan
``outputText``, Llama ``generation``); an exception frame is an error; ``metadata`` (Converse) or
``message_stop`` (Anthropic) the end; a frame that fails its checksum is an error and ends
reading.
"""

from __future__ import annotations

import base64
import codecs
import json
from dataclasses import dataclass, field
from typing import Any

from ..eventstream import Decoder, FramingError

NDJSON_TYPES = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl",
                          "application/x-jsonlines", "application/jsonlines"})
EVENTSTREAM_TYPE = "application/vnd.amazon.eventstream"
_TEXT_KEYS = ("text", "content", "delta", "response", "outputText", "generation", "completion",
              "token")


@dataclass(frozen=True, slots=True)
class Piece:
    text: str = ""
    error: str | None = None  # an error indication, with its message
    done: bool = False  # the stream said it is complete
    keepalive: bool = False  # an SSE comment or empty event (no content)


def _text_of(obj: dict[str, Any]) -> str:
    message = obj.get("message")
    if isinstance(message, dict) and isinstance(message.get("content"), str):
        return message["content"]
    for key in _TEXT_KEYS:
        if isinstance(obj.get(key), str):
            return obj[key]
    return ""


def _error_text(err: Any) -> str:
    if isinstance(err, dict):
        return str(err.get("message") or err)
    return str(err)


@dataclass
class NdjsonReader:
    _utf8: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")("replace"))
    _line: str = ""

    def feed(self, data: bytes) -> list[Piece]:
        self._line += self._utf8.decode(data)
        *lines, self._line = self._line.split("\n")
        return [p for line in lines if (p := self._one(line.strip())) is not None]

    def _one(self, line: str) -> Piece | None:
        if not line:
            return Piece(keepalive=True)
        try:
            obj = json.loads(line)
        except ValueError:
            return Piece(error=f"not JSON: {line[:60]}")
        if not isinstance(obj, dict):
            return None
        if obj.get("error"):
            return Piece(error=_error_text(obj["error"]))
        return Piece(text=_text_of(obj), done=obj.get("done") is True)


@dataclass
class EventStreamReader:
    _decoder: Decoder = field(default_factory=Decoder)
    _broken: bool = False

    def feed(self, data: bytes) -> list[Piece]:
        if self._broken:
            return []
        self._decoder.add(data)
        out: list[Piece] = []
        try:
            for m in self._decoder:
                if (p := self._one(m.headers, m.payload)) is not None:
                    out.append(p)
        except FramingError as exc:
            self._broken = True
            out.append(Piece(error=f"event stream: {exc}"))
        return out

    def _one(self, headers: dict[str, object], payload: bytes) -> Piece | None:
        kind = headers.get(":message-type")
        try:
            obj: Any = json.loads(payload) if payload else {}
        except ValueError:
            obj = None
        if kind in ("exception", "error"):
            name = headers.get(":exception-type") or headers.get(":error-code") or "error"
            message = obj.get("message") if isinstance(obj, dict) else None
            return Piece(error=f"{name}: {message or headers.get(':error-message', '')}")
        if not isinstance(obj, dict):
            return Piece(error=f"event {headers.get(':event-type')}: payload is not JSON")
        event = headers.get(":event-type")
        if event == "chunk":
            try:
                inner = json.loads(base64.b64decode(str(obj.get("bytes", ""))))
            except ValueError:
                return Piece(error="chunk: bytes are not base64 JSON")
            return _model_event(inner) if isinstance(inner, dict) else None
        if event == "contentBlockDelta":
            delta = obj.get("delta")
            text = delta.get("text") if isinstance(delta, dict) else None
            return Piece(text=text) if isinstance(text, str) else None
        if event == "metadata":
            return Piece(done=True)
        return None


def _model_event(obj: dict[str, Any]) -> Piece | None:
    """One model event relayed in a Bedrock ``chunk`` (Anthropic Messages first)."""
    kind = obj.get("type")
    if kind == "error" or obj.get("error"):
        return Piece(error=_error_text(obj.get("error") or obj))
    if kind == "message_stop":
        return Piece(done=True)
    if kind == "content_block_delta":
        delta = obj.get("delta")
        text = delta.get("text") if isinstance(delta, dict) else None
        return Piece(text=text) if isinstance(text, str) else None
    if kind is not None:
        return None
    return Piece(text=_text_of(obj), done=obj.get("stop_reason") not in (None, "")
                 or obj.get("completionReason") not in (None, ""))


def sniff_eventstream(data: bytes) -> bool:
    """Whether ``data`` opens with an event stream prelude (its CRC32 checks out)."""
    from binascii import crc32

    return len(data) >= 12 and crc32(data[:8]) == int.from_bytes(data[8:12], "big")
