"""Which wire format a request belongs to, from its method and path (the simulator's routes)."""

from __future__ import annotations

import functools
import re

from ..encoders import WireFormat, formats

_PARAM = re.compile(r"\{(\w+)(?::([^}]+))?\}")


def _pattern(route: str) -> re.Pattern[str]:
    out, pos = [], 0
    for m in _PARAM.finditer(route):
        out.append(re.escape(route[pos:m.start()]))
        out.append(f"(?:{m.group(2)})" if m.group(2) else "[^/]+")
        pos = m.end()
    out.append(re.escape(route[pos:]))
    return re.compile("".join(out) + r"\Z")


@functools.lru_cache(maxsize=1)
def _routes() -> list[tuple[str, re.Pattern[str], str]]:
    return [(method, _pattern(path), fmt.name)
            for fmt in formats().values() for method, path in fmt.routes]


def format_for(method: str, path: str) -> str | None:
    """The name of the wire format whose route ``method path`` is, or None."""
    for m, pattern, name in _routes():
        if m == method.upper() and pattern.match(path):
            return name
    return None


def wire_format(name: str | None) -> WireFormat | None:
    return formats().get(name) if name else None
