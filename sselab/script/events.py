"""Provider-neutral stream events: what a scenario compiles to, before any wire format.

A :class:`Script` is an ordered list of :class:`Timed` events, each due ``at`` seconds after the
request was received. Wire encoders (``sselab.encoders``) turn content events into bytes in a
provider's format; control events (:class:`Stall`, :class:`Close`, :class:`Reset`) pass through
the encoder untouched and are acted on by the writer.
"""

from __future__ import annotations

from dataclasses import dataclass, field


# --- content events: every encoder renders these --------------------------------------------
@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ThinkingDelta:
    """Reasoning text (Anthropic ``thinking_delta``; other formats may drop it)."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCallStart:
    index: int  # position among this response's tool calls, from 0
    call_id: str  # e.g. "call_ab12..." ; encoders may reshape it (Anthropic "toolu_...")
    name: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    index: int
    arguments: str  # a fragment of the JSON arguments text


@dataclass(frozen=True, slots=True)
class ToolCallEnd:
    index: int


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True, slots=True)
class Finish:
    """The model finished. ``reason`` is neutral: "stop", "length", "tool_calls" or
    "content_filter"."""

    reason: str


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    """A mid-stream error in the provider's own error shape. The stream ends after it.

    ``kind`` is neutral: "overloaded", "server_error", "rate_limit", "invalid_request".
    """

    message: str
    kind: str = "server_error"


@dataclass(frozen=True, slots=True)
class Malformed:
    """One frame whose JSON payload is broken (truncated), in the format's framing."""

    raw: str = '{"broken": '


# --- control events: passed through encoders, acted on by the writer -------------------------
@dataclass(frozen=True, slots=True)
class Stall:
    """Nothing is sent for ``seconds`` (None: until the client goes away).

    The following events' ``at`` already include the stall; the writer only uses this marker to
    send keep-alive comments every ``keepalive`` seconds while stalled (None: silent).
    """

    seconds: float | None
    keepalive: float | None = None


@dataclass(frozen=True, slots=True)
class Close:
    """Close the connection cleanly (FIN) without finishing the HTTP body."""


@dataclass(frozen=True, slots=True)
class Reset:
    """Abort the connection with a TCP RST."""


@dataclass(frozen=True, slots=True)
class Drop:
    """The connection breaks (RST, or FIN when ``reset`` is false) but the stream lives on: a
    resumable stream goes on generating and a client may resume it (``drop`` with
    ``resumable: true``). Where a stream cannot be resumed it is a plain Reset or Close."""

    reset: bool = True


@dataclass(frozen=True, slots=True)
class CorruptNext:
    """Marks where the ``corrupt_frame`` fault damages the next frame (its last byte flipped):
    encoders pass it through like any control event and the fault's shape stage consumes it."""


ContentEvent = (
    TextDelta | ThinkingDelta | ToolCallStart | ToolCallDelta | ToolCallEnd | Usage | Finish
    | ErrorEvent | Malformed
)
ControlEvent = Stall | Close | Reset | Drop | CorruptNext
Event = ContentEvent | ControlEvent
CONTROL_EVENTS = (Stall, Close, Reset, Drop, CorruptNext)


@dataclass(frozen=True, slots=True)
class Timed:
    at: float  # seconds after the request was received
    event: Event


@dataclass(frozen=True, slots=True)
class HttpError:
    """Answer with an HTTP error before any stream (``kind`` as in :class:`ErrorEvent`)."""

    status: int
    message: str
    kind: str
    retry_after: float | None = None
    param: str | None = None  # the request field at fault, where the provider names it
    code: str | None = None  # the provider's own error code, when it is not the kind's


@dataclass(frozen=True, slots=True)
class ToolCall:
    call_id: str
    name: str
    arguments: str  # full JSON text


@dataclass
class Script:
    """A scenario compiled for one request: everything an encoder and the writer need."""

    scenario: str
    events: list[Timed]
    text: str = ""  # the full answer text (what a correct client reassembles)
    thinking: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str = "stop"
    input_tokens: int = 0
    output_tokens: int = 0
    terminate: bool = True  # send the format's terminator ([DONE], message_stop, ...)
    http_error: HttpError | None = None
    seed: int = 0  # for ids and anything else an encoder makes up
    event_ids: bool | None = None  # plain SSE: events carry ids (None: the route's default)
    retry_ms: int | None = None  # plain SSE: the first event carries ``retry:``

    def content(self) -> list[Timed]:
        return [t for t in self.events if not isinstance(t.event, CONTROL_EVENTS)]
