"""A recording back into the timed script of abstract events, for every wire format.

Each module here reads one family of wire formats (``FORMATS``): ``stream(builder, pieces)``
reads a streamed body, ``body(builder, obj, at)`` a non-streamed JSON answer. Events are due
when the piece that completed them was read (``timing``/``speed`` applied). What the upstream
did besides the body becomes the script's own: an HTTP error is ``Script.http_error`` (with its
retry-after), a FIN or RST mid-body a ``Close`` / ``Reset`` event, a missing end marker
``terminate = False``. Then every fault applies, and any encoder re-encodes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ...encoders.base import kind_for_status
from ...script.events import (
    Close,
    Finish,
    HttpError,
    Reset,
    Script,
    TextDelta,
    ThinkingDelta,
    Timed,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    Usage,
)
from ..schema import Recording
from . import (
    anthropic,
    bedrock_converse,
    bedrock_invoke,
    gemini,
    ollama,
    openai_chat,
    openai_responses,
    plain_sse,
    vercel_ui_stream,
)
from ._common import Builder, DecodeError, loads

if TYPE_CHECKING:
    from ...scenario.schema import Scenario
    from ...script.build import Plan

_MODULES: tuple[ModuleType, ...] = (anthropic, bedrock_converse, bedrock_invoke, gemini, ollama,
                                    openai_chat, openai_responses, plain_sse, vercel_ui_stream)
DECODERS: dict[str, ModuleType] = {name: m for m in _MODULES for name in m.FORMATS}
_STREAM_TYPES = ("text/event-stream", "application/x-ndjson", "application/ndjson",
                 "application/vnd.amazon.eventstream")

__all__ = ["DECODERS", "DecodeError", "Decoded", "decode", "recorded_plan", "recorded_script"]


@dataclass
class Decoded:
    events: list[Timed] = field(default_factory=list)
    http_error: HttpError | None = None
    terminate: bool = True


def _retry_after(rec: Recording, obj: Any) -> float | None:
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = rec.response.header(name)
        if value is not None:
            try:
                return float(value) / scale
            except ValueError:
                pass
    details = obj.get("error", {}).get("details") if isinstance(obj, dict) and isinstance(
        obj.get("error"), dict) else None
    for d in details if isinstance(details, list) else []:
        delay = d.get("retryDelay") if isinstance(d, dict) else None
        if isinstance(delay, str) and delay.endswith("s"):
            try:
                return float(delay[:-1])
            except ValueError:
                pass
    return None


def _error_message(obj: Any, raw: bytes) -> str:
    if isinstance(obj, dict):
        err = obj.get("error", obj)
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"]
        if isinstance(err, str):
            return err
        if isinstance(obj.get("message"), str):
            return obj["message"]
    return raw.decode("utf-8", "replace").strip()[:500] or "error"


def decode(rec: Recording) -> Decoded:
    """The recording as timed events (raises :class:`DecodeError` when it cannot be read)."""
    response = rec.response
    end = rec.scale(response.ended_ms)
    ending = {"reset": Reset(), "close": Close(), "client_disconnected": Close()}.get(
        response.end)
    if response.status is None:
        return Decoded([Timed(end, ending or Close())], terminate=False)
    if response.status >= 400:
        obj = loads(response.body)
        return Decoded(http_error=HttpError(response.status, _error_message(obj, response.body),
                                            kind_for_status(response.status),
                                            _retry_after(rec, obj)))
    module = DECODERS.get(rec.format or "")
    if module is None:
        raise DecodeError(f"a {rec.format or 'unknown'} answer cannot be decoded (decodable: "
                          f"{', '.join(sorted(DECODERS))})")
    builder = Builder()
    pieces = [(rec.scale(p.at_ms), p.data) for p in response.pieces]
    ctype = (response.header("content-type") or "").split(";")[0].strip().lower()
    try:
        if ctype in _STREAM_TYPES or (not ctype and module.STREAMS):
            module.stream(builder, pieces)
        else:
            obj = loads(response.body)
            if not isinstance(obj, dict):
                raise DecodeError(f"a non-streamed {rec.format} answer is not a JSON object")
            module.body(builder, obj, pieces[-1][0] if pieces else end)
    except UnicodeDecodeError:
        raise DecodeError(f"its body is not {rec.format} text (not UTF-8)") from None
    except (AttributeError, KeyError, TypeError, ValueError) as exc:  # hand-edited, odd shapes
        if isinstance(exc, DecodeError):
            raise
        raise DecodeError(f"its body does not read as {rec.format} ({exc})") from None
    if ending is not None:
        builder.add(end, ending)
    return Decoded(builder.events, terminate=builder.terminated)


def recorded_plan(scenario: Scenario, strict: bool = True) -> Plan:
    """The plan of a scenario answering with a recording (``strict``: an undecodable recording
    is an error; else an empty plan, the recording being replayed only verbatim)."""
    from ...script.build import Plan

    try:
        decoded = decode(scenario.recording)
    except DecodeError:
        if strict:
            raise
        return Plan(scenario, [])
    return Plan(scenario, list(decoded.events), terminate=decoded.terminate,
                http_error=decoded.http_error)


def recorded_script(scenario: Scenario, p: Plan) -> Script:
    """The script of a planned (and faulted) recording: text, calls and usage from its events."""
    text, thinking = [], []
    calls: dict[int, list[str]] = {}
    finish = "stop"
    usage = (0, 0)
    for t in p.events:
        ev = t.event
        if isinstance(ev, TextDelta):
            text.append(ev.text)
        elif isinstance(ev, ThinkingDelta):
            thinking.append(ev.text)
        elif isinstance(ev, ToolCallStart):
            calls[ev.index] = [ev.call_id, ev.name, ""]
        elif isinstance(ev, ToolCallDelta) and ev.index in calls:
            calls[ev.index][2] += ev.arguments
        elif isinstance(ev, Finish):
            finish = ev.reason
        elif isinstance(ev, Usage):
            usage = (ev.input_tokens, ev.output_tokens)
    deltas = sum(isinstance(t.event, (TextDelta, ThinkingDelta, ToolCallDelta)) for t in p.events)
    return Script(
        scenario=scenario.name, events=p.events,
        text="".join(text) if p.text is None else p.text, thinking="".join(thinking),
        tool_calls=[ToolCall(*calls[i]) for i in sorted(calls)], finish_reason=finish,
        input_tokens=usage[0], output_tokens=usage[1] or deltas, terminate=p.terminate,
        http_error=p.http_error, seed=scenario.timing.seed,
    )
