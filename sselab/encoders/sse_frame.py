"""The one SSE frame writer: pure, byte-exact, shared by every SSE-based format.

Follows the WHATWG event-stream grammar: ``field: value`` lines ending in LF, a blank line ending
the event; a value containing line breaks becomes several ``data:`` lines (a reader joins them
with LF). Line-ending variants (CRLF, CR) are a transport fault applied later, not here.
"""

from __future__ import annotations

import json
from typing import Any

_SEPARATORS = (",", ":")


def sse(
    data: str | None = None,
    *,
    event: str | None = None,
    id: str | None = None,
    retry: int | None = None,
    comment: str | None = None,
) -> bytes:
    lines: list[str] = []
    if comment is not None:
        lines.extend(": " + part if part else ":" for part in comment.split("\n"))
    if event is not None:
        lines.append("event: " + event)
    if id is not None:
        lines.append("id: " + id)
    if retry is not None:
        lines.append(f"retry: {retry}")
    if data is not None:
        lines.extend("data: " + part for part in data.replace("\r\n", "\n").replace("\r", "\n")
                     .split("\n"))
    return ("\n".join(lines) + "\n\n").encode()


def dumps(obj: Any) -> str:
    """Compact JSON as the providers send it (no spaces, non-ASCII kept as UTF-8)."""
    return json.dumps(obj, separators=_SEPARATORS, ensure_ascii=False)


def sse_json(obj: Any, *, event: str | None = None) -> bytes:
    return sse(dumps(obj), event=event)
