"""Helpers several wire formats share (private: the registry skips ``_`` modules).

Each format keeps its own tables and wording and passes them in: its finish-reason table, the
field named in an error, a hint for the reader. Nothing here writes a frame.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from json.encoder import encode_basestring
from typing import Any, TypeVar

from ..script.events import Script, Usage
from .base import RequestInfo

_T = TypeVar("_T")

# A str as a JSON string literal, non-ASCII kept raw: json.dumps(s, ensure_ascii=False) without
# the dispatch; the hot paths put it between pre-encoded bytes.
json_str = encode_basestring


def seed_digest(script: Script, req: RequestInfo, tag: str) -> bytes:
    """SHA-256 of ``"{seed}:{request id}:{tag}"``: the source of ids that stay the same when a
    request is replayed (``tag`` keeps one response's ids apart)."""
    return hashlib.sha256(f"{script.seed}:{req.request_id}:{tag}".encode()).digest()


def seeded_id(script: Script, req: RequestInfo, tag: str, alphabet: str, length: int) -> str:
    """``length`` (at most 32) characters of ``alphabet``, one per byte of :func:`seed_digest`."""
    return "".join(alphabet[b % len(alphabet)]
                   for b in seed_digest(script, req, tag)[:length])


def finish_reason(table: Mapping[str, str], reason: str) -> str:
    """The format's word for a neutral ``Finish.reason``, or a ValueError naming the field."""
    try:
        return table[reason]
    except KeyError:
        raise ValueError(
            f"Finish.reason: unknown {reason!r}; expected one of {', '.join(table)}") from None


def parse_arguments(where: str, arguments: str, hint: str = "") -> Any:
    """Tool-call arguments text as JSON (blank reads as ``{}``), or a ValueError naming
    ``where`` and ending with ``hint``."""
    try:
        return json.loads(arguments) if arguments.strip() else {}
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: not valid JSON ({exc.msg}){hint}") from None


def started_call(calls: Mapping[int, _T], index: int) -> _T:
    """``calls[index]`` for a ToolCallDelta/ToolCallEnd, or a ValueError when no ToolCallStart
    opened that index."""
    try:
        return calls[index]
    except KeyError:
        raise ValueError(
            f"ToolCallDelta/ToolCallEnd.index: {index} has no ToolCallStart before it") from None


def usage_counts(script: Script) -> tuple[int, int]:
    """(input, output) token counts: the script's last Usage event, else its totals."""
    counts = (script.input_tokens, script.output_tokens)
    for t in script.events:
        if isinstance(t.event, Usage):
            counts = (t.event.input_tokens, t.event.output_tokens)
    return counts


def model_field(body: Mapping[str, Any], default: str | None = None) -> str | None:
    """The request body's ``model`` (``default`` when absent), or a ValueError naming it."""
    model = body.get("model", default)
    if model is not None and not isinstance(model, str):
        raise ValueError("model: expected a string")
    return model


def retry_after(seconds: float) -> str:
    """A ``retry-after`` header value: whole seconds as an integer, else ``%g`` (``1.5``)."""
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"
