"""What the per-format decoders share: framings (SSE, NDJSON, AWS event stream) over timed
pieces, and :class:`Builder`, which turns what a decoder reads into timed script events."""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ...eventstream import Decoder, FramingError, Message
from ...script.events import (
    ErrorEvent,
    Event,
    Finish,
    Malformed,
    TextDelta,
    ThinkingDelta,
    Timed,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    Usage,
)
from ...sse_parse import SSEDecoder, SSEEvent

TimedPieces = Iterable[tuple[float, bytes]]  # (seconds after the request, bytes read)


class DecodeError(ValueError):
    """The recorded bytes are not a stream of the format they claim to be."""


def sse(pieces: TimedPieces) -> Iterator[tuple[float, SSEEvent]]:
    decoder = SSEDecoder()
    for at, data in pieces:
        for event in decoder.feed(data):
            yield at, event


def lines(pieces: TimedPieces) -> Iterator[tuple[float, str]]:
    """NDJSON: every complete non-empty line (a last line without its LF counts too)."""
    buf = b""
    at = 0.0
    for at, data in pieces:
        buf += data
        *done, buf = buf.split(b"\n")
        for line in done:
            if line.strip():
                yield at, line.decode("utf-8", "replace").strip()
    if buf.strip():
        yield at, buf.decode("utf-8", "replace").strip()


def frames(pieces: TimedPieces) -> Iterator[tuple[float, Message]]:
    decoder = Decoder()
    for at, data in pieces:
        decoder.add(data)
        try:
            for message in decoder:
                yield at, message
        except FramingError as exc:
            raise DecodeError(f"not an AWS event stream: {exc}") from None


def loads(text: str | bytes) -> Any:
    """JSON, or None when the text is not JSON."""
    try:
        return json.loads(text)
    except ValueError:
        return None


KINDS = {  # provider error words -> sselab's neutral error kind
    "overloaded": "overloaded", "overloaded_error": "overloaded",
    "rate_limit": "rate_limit", "rate_limit_error": "rate_limit",
    "rate_limit_exceeded": "rate_limit", "requests": "rate_limit", "tokens": "rate_limit",
    "resource_exhausted": "rate_limit", "throttlingexception": "rate_limit",
    "insufficient_quota": "rate_limit",
    "invalid_request_error": "invalid_request", "invalid_argument": "invalid_request",
    "validationexception": "invalid_request", "invalid_request": "invalid_request",
    "authentication_error": "authentication", "unauthenticated": "authentication",
    "permission_error": "permission", "permission_denied": "permission",
    "not_found_error": "not_found", "not_found": "not_found",
    "unavailable": "unavailable", "service_unavailable_error": "unavailable",
    "serviceunavailableexception": "unavailable", "server_is_overloaded": "overloaded",
    "server_error": "server_error", "api_error": "server_error", "internal": "server_error",
    "modelstreamerrorexception": "server_error", "internalserverexception": "server_error",
}


def kind_of(*words: object) -> str:
    """The neutral kind of the first word known (error type, code, status...)."""
    for word in words:
        if isinstance(word, str) and word.lower() in KINDS:
            return KINDS[word.lower()]
    return "server_error"


@dataclass
class Builder:
    """Timed script events in the order read. Tool calls are keyed by whatever the format uses
    (an index, an item id) and numbered from 0 in the order they start."""

    events: list[Timed] = field(default_factory=list)
    terminated: bool = False  # the format's own end marker was read
    failed: bool = False  # an error event was read (nothing after it counts)
    _calls: dict[Hashable, int] = field(default_factory=dict)
    _open: set[int] = field(default_factory=set)
    _usage: tuple[int, int] | None = None
    _usage_sent: bool = False
    _finished: bool = False

    def add(self, at: float, event: Event) -> None:
        if not self.failed:
            self.events.append(Timed(at, event))

    def text(self, at: float, text: Any) -> None:
        if isinstance(text, str) and text:
            self.add(at, TextDelta(text))

    def thinking(self, at: float, text: Any) -> None:
        if isinstance(text, str) and text:
            self.add(at, ThinkingDelta(text))

    def tool_start(self, at: float, key: Hashable, call_id: Any, name: Any) -> int:
        if key in self._calls:
            return self._calls[key]
        index = self._calls[key] = len(self._calls)
        self._open.add(index)
        self.add(at, ToolCallStart(index, call_id if isinstance(call_id, str) and call_id
                                   else f"call_{index}", name if isinstance(name, str) else ""))
        return index

    def tool_delta(self, at: float, key: Hashable, arguments: Any) -> None:
        index = self.tool_start(at, key, None, None)
        if isinstance(arguments, str) and arguments:
            self.add(at, ToolCallDelta(index, arguments))

    def tool_whole(self, at: float, key: Hashable, call_id: Any, name: Any, arguments: Any
                   ) -> None:
        """A tool call sent in one piece (Gemini, Ollama): start, arguments, end."""
        self.tool_start(at, key, call_id, name)
        text = arguments if isinstance(arguments, str) else json.dumps(
            arguments if arguments is not None else {}, ensure_ascii=False)
        self.tool_delta(at, key, text)
        self.tool_end(at, key)

    def tool_end(self, at: float, key: Hashable) -> None:
        index = self._calls.get(key)
        if index is not None and index in self._open:
            self._open.discard(index)
            self.add(at, ToolCallEnd(index))

    @property
    def has_tool_calls(self) -> bool:
        return bool(self._calls)

    def usage(self, at: float, input_tokens: Any, output_tokens: Any) -> None:
        known = self._usage or (0, 0)
        self._usage = (input_tokens if isinstance(input_tokens, int) else known[0],
                       output_tokens if isinstance(output_tokens, int) else known[1])
        if self._finished:  # usage after the finish (OpenAI's usage chunk)
            self._emit_usage(at)

    def _emit_usage(self, at: float) -> None:
        if self._usage is not None:
            self.events = [t for t in self.events if not isinstance(t.event, Usage)]
            self.add(at, Usage(*self._usage))

    def finish(self, at: float, reason: str) -> None:
        if self._finished or self.failed:
            return
        for index in sorted(self._open):
            self.add(at, ToolCallEnd(index))
        self._open.clear()
        self._emit_usage(at)
        self.add(at, Finish(reason))
        self._finished = True

    def error(self, at: float, message: Any, kind: str) -> None:
        self.add(at, ErrorEvent(str(message or "error"), kind))
        self.failed = True

    def malformed(self, at: float, raw: str) -> None:
        self.add(at, Malformed(raw))
