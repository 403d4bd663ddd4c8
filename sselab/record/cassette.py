"""One recorded exchange in memory (:class:`Exchange`) and as a scenario file (:func:`render`).

The file is YAML meant to be read and diffed: a piece that is UTF-8 text on its own is written
as a double-quoted string (``"data: {...}\\n\\n"``), anything else (a piece that cuts a
character, binary event-stream frames) as base64; request bodies that are JSON as YAML. What is
written is loaded back and compared before the file is kept, so a piece always replays as the
bytes that were read. Secrets go through :class:`~sselab.record.redact.Redactor` first.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from .redact import Redactor
from .schema import DEFAULT_MATCH

_Dumper: type = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# characters a text piece may hold: printable ones and the usual whitespace; anything else
# (controls, NEL, line/paragraph separators, BOM, private use) goes to base64
_UNSAFE = re.compile("[^\t\n\r\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd"
                     "\U00010000-\U0010ffff]")


class _Quoted(str):
    """A string written double-quoted on one line (escapes kept visible: ``\\n``, ``\\r``)."""


def _quoted(dumper: Any, value: _Quoted) -> Any:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style='"')


class _Flow(dict):  # type: ignore[type-arg]
    """A mapping written on one line: ``{at_ms: 12.5, text: "..."}``."""


def _flow(dumper: Any, value: _Flow) -> Any:
    return dumper.represent_mapping("tag:yaml.org,2002:map", value.items(), flow_style=True)


class _Dump(_Dumper):  # type: ignore[misc, valid-type]
    pass


_Dump.add_representer(_Quoted, _quoted)
_Dump.add_representer(_Flow, _flow)


@dataclass
class Exchange:
    """What the recording proxy saw of one request. Times are monotonic seconds."""

    upstream: str
    method: str
    path: str
    query: str
    request_headers: list[tuple[str, str]]
    body: bytes
    format: str | None = None
    received_wall: float = field(default_factory=time.time)
    sent: float | None = None  # when the request went to the upstream
    status: int | None = None
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    headers_at: float | None = None
    pieces: list[tuple[float, bytes]] = field(default_factory=list)  # the body, per read
    end: str = "eof"
    ended: float | None = None
    reads: list[tuple[float, bytes]] | None = None  # as read, framing kept (see finalize)
    framing: str = "close"  # chunked | length | close | none

    def finalize(self) -> None:
        """The body pieces from the reads: a chunked body's framing taken out."""
        if self.reads is None:
            return
        if self.framing == "chunked":
            from .upstream import dechunk

            self.pieces = dechunk(self.reads)[0]
        else:
            self.pieces = list(self.reads)
        self.reads = None

    def ms(self, t: float | None) -> float:
        base = self.sent if self.sent is not None else t
        return round(max(0.0, ((t or 0.0) - (base or 0.0)) * 1000.0), 3)

    @property
    def model(self) -> str | None:
        try:
            body = json.loads(self.body) if self.body.strip() else None
        except ValueError:
            return None
        model = body.get("model") if isinstance(body, dict) else None
        return model if isinstance(model, str) else None


def text_or_none(data: bytes) -> str | None:
    """``data`` as a text piece, or None when it must be base64."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if _UNSAFE.search(text) else text


def _piece(at_ms: float, data: bytes) -> _Flow:
    text = text_or_none(data)
    if text is not None:
        return _Flow(at_ms=at_ms, text=_Quoted(text))
    return _Flow(at_ms=at_ms, b64=base64.b64encode(data).decode("ascii"))


def _body(raw: bytes, redactor: Redactor) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
        scrubbed = redactor.json(parsed)
        if yaml.load(yaml.dump(scrubbed, Dumper=_Dump, allow_unicode=True), Loader=_Loader) \
                == scrubbed:
            return {"body": scrubbed}
    except (ValueError, yaml.YAMLError):
        pass
    text = text_or_none(raw)
    if text is not None:
        return {"body_text": _Quoted(redactor.text(text))}
    return {"body_b64": base64.b64encode(redactor.data(raw)).decode("ascii")}


def description(ex: Exchange, upstream: str) -> str:
    when = datetime.fromtimestamp(ex.received_wall, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    model = f" ({ex.model})" if ex.model else ""
    status = ex.status if ex.status is not None else f"no response ({ex.end})"
    took = ex.ms(ex.ended)
    tail = "" if ex.end == "eof" or ex.status is None else f", then {ex.end}"
    return (f"Recorded from {upstream} on {when}: {ex.method} {ex.path}{model} -> {status}, "
            f"{len(ex.pieces)} pieces in {took:.0f} ms{tail}")


def render(ex: Exchange, name: str, *, match: Sequence[str] = DEFAULT_MATCH,
           redact_headers: Sequence[str] = ()) -> str:
    """The scenario file of one exchange, secrets redacted; raises if it would not load back
    as the same bytes."""
    ex.finalize()
    redactor = Redactor(redact_headers)
    request_headers = redactor.header_lines(ex.request_headers)  # collects the secrets first
    query = redactor.query(ex.query)
    upstream = redactor.url(ex.upstream)
    response_headers = redactor.header_lines(ex.response_headers)
    pieces = [(ex.ms(t), redactor.data(d)) for t, d in ex.pieces]
    recording: dict[str, Any] = {
        "upstream": upstream,
        "recorded_at": datetime.fromtimestamp(ex.received_wall, timezone.utc).isoformat(
            timespec="milliseconds").replace("+00:00", "Z"),
        "format": ex.format,
    }
    if list(match) != list(DEFAULT_MATCH):
        recording["match"] = list(match)
    recording["request"] = {"method": ex.method, "path": redactor.text(ex.path), "query": query,
                            "headers": request_headers, **_body(ex.body, redactor)}
    recording["response"] = {
        "status": ex.status,
        "headers_ms": ex.ms(ex.headers_at) if ex.headers_at is not None else 0.0,
        "headers": response_headers,
        "pieces": [_piece(at, d) for at, d in pieces],
        "end": ex.end,
        "end_ms": ex.ms(ex.ended),
    }
    doc = {"name": name, "description": redactor.text(description(ex, upstream)),
           "recording": recording}
    text = ("# Recorded by `sselab record`. Replay it with `sselab serve --scenarios DIR`;\n"
            "# `sselab scenarios check FILE` validates it after an edit.\n"
            + yaml.dump(doc, Dumper=_Dump, allow_unicode=True, sort_keys=False,
                        default_flow_style=False, width=2**30))
    _check_round_trip(text, [d for _, d in pieces])
    return text


def _check_round_trip(text: str, pieces: list[bytes]) -> None:
    loaded = yaml.load(text, Loader=_Loader)["recording"]["response"]["pieces"]
    got = [p["text"].encode("utf-8") if "text" in p else base64.b64decode(p["b64"])
           for p in loaded]
    if got != pieces:  # a bug in sselab, never in the upstream's bytes
        raise AssertionError("a recorded piece would not load back as the bytes read")


_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def slug(value: str) -> str:
    return _SAFE_NAME.sub("-", value).strip("-.")[:60] or "x"


def write_new(directory: Path, stem: str, render_text: Any) -> Path:
    """Write ``render_text(name)`` to the first free ``stem-NNN.yaml`` of ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for n in range(1, 100_000):
        name = f"{stem}-{n:03d}"
        path = directory / f"{name}.yaml"
        if path.exists() or (directory / f"{name}.yml").exists():
            continue
        text = render_text(name)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        return path
    raise OSError(f"{directory}: no free recording name for {stem}")
