"""The ``recording:`` section of a scenario file: what ``sselab record`` wrote, validated strictly.

::

    name: openai_chat-gpt-4o-mini-001
    description: Recorded from https://api.openai.com at 2026-01-05T12:00:03Z ...
    recording:
      upstream: https://api.openai.com
      recorded_at: '2026-01-05T12:00:03.120Z'
      format: openai_chat            # the wire format its route belongs to (null: unknown)
      timing: recorded               # recorded | instant ; speed: 2.0 replays twice as fast
      match: [method, path, model, conversation]
      request:
        method: POST
        path: /v1/chat/completions
        query: ''
        headers: ['authorization: <redacted>', 'content-type: application/json']
        body: {model: gpt-4o-mini, messages: [{role: user, content: hi}], stream: true}
      response:
        status: 200                  # null: the connection ended before any response
        headers_ms: 310.2
        headers: ['content-type: text/event-stream; charset=utf-8']
        pieces:                      # each read from the upstream: its time and its bytes
        - {at_ms: 312.9, text: "data: {...}\\n\\n"}
        - {at_ms: 340.0, b64: 4oCm}   # not UTF-8 on its own (a cut character), or binary
        end: eof                     # eof | close (FIN mid-body) | reset | client_disconnected
        end_ms: 812.0

Times are milliseconds after the request was sent to the upstream.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ..errors import ScenarioError
from ..scenario.schema import doc
from ..scenario.validate import BAD, Reported, Where, build

MATCH_CRITERIA = ("method", "path", "query", "model", "conversation", "body")
DEFAULT_MATCH = ("method", "path", "model", "conversation")
Criterion = Literal["method", "path", "query", "model", "conversation", "body"]
Ending = Literal["eof", "close", "reset", "client_disconnected"]


@dataclass(frozen=True)
class Piece:
    at_ms: float
    data: bytes

    @property
    def at(self) -> float:
        return self.at_ms / 1000.0


@dataclass(frozen=True)
class RecordedRequest:
    method: str = doc("the HTTP method")
    path: str = doc("the path the client asked for (matched on replay)")
    query: str = doc("the query string, credentials redacted", default="")
    headers: list[str] = doc("`Name: value` lines, credentials redacted", default_factory=list)
    body: Any = doc("the JSON body", default=None)
    body_text: str | None = doc("a body that is not JSON, as text", default=None)
    body_b64: str | None = doc("a body that is not text, base64", default=None)


@dataclass(frozen=True)
class RecordedResponse:
    status: int | None = doc("the HTTP status; null when the connection ended before one")
    headers: list[str] = doc("`Name: value` lines, `Set-Cookie` redacted", default_factory=list)
    headers_ms: float = doc("when the status line and headers arrived", default=0.0)
    pieces: tuple[Piece, ...] = field(default=(), metadata={"doc": "the body as read: a list of "
                                      "`{at_ms, text}` or `{at_ms, b64}`"})
    end: Ending = doc("how the body ended", default="eof")
    end_ms: float | None = doc("when it ended (default: the last piece's time)", default=None)

    @property
    def body(self) -> bytes:
        return b"".join(p.data for p in self.pieces)

    @property
    def ended_ms(self) -> float:
        if self.end_ms is not None:
            return self.end_ms
        return self.pieces[-1].at_ms if self.pieces else self.headers_ms

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)


@dataclass(frozen=True)
class Recording:
    upstream: str = doc("where it was recorded from (credentials removed)")
    recorded_at: str = doc("when (UTC, ISO 8601)")
    request: RecordedRequest = doc("what the client sent")
    response: RecordedResponse = doc("what the upstream answered")
    format: str | None = doc("the wire format of the request's route (null: none known)",
                             default=None)
    timing: Literal["recorded", "instant"] = doc("replay at the recorded offsets, or at once",
                                                 default="recorded")
    speed: float = doc("replay this many times faster (with `timing: recorded`)", default=1.0)
    match: list[Criterion] = doc("what a request must share with the recording to get it: "
                                 "method, path, query, model, conversation, body",
                                 default_factory=lambda: list(DEFAULT_MATCH))
    source: str | None = field(default=None, compare=False, metadata={"internal": True})

    def scale(self, ms: float) -> float:
        """A recorded offset in ms as the replay's offset in seconds."""
        if self.timing == "instant":
            return 0.0
        return ms / 1000.0 / self.speed

    @property
    def model(self) -> str | None:
        body = self.request.body
        model = body.get("model") if isinstance(body, Mapping) else None
        return model if isinstance(model, str) else None


def header_value(lines: list[str], name: str) -> str | None:
    want = name.lower()
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip().lower() == want:
            return value.strip()
    return None


def _pieces(raw: Any, where: Where, path: str) -> tuple[Piece, ...]:
    """The pieces list, checked by hand: a recording may hold thousands of them."""
    if not isinstance(raw, list):
        raise where.error(path, "expected a list of {at_ms, text} or {at_ms, b64}")
    out: list[Piece] = []
    last = 0.0
    failed = False
    for i, item in enumerate(raw):
        p = f"{path}[{i}]"
        try:
            out.append(_piece(item, where, p))
            if out[-1].at_ms < last:
                raise where.error(f"{p}.at_ms", f"goes back in time ({out[-1].at_ms:g} after "
                                                f"{last:g}); pieces are in the order read")
            last = out[-1].at_ms
        except ScenarioError as exc:  # noted with its place; go on with the next piece
            where.add(exc)
            failed = True
    if failed:
        raise Reported
    return tuple(out)


def _piece(item: Any, where: Where, path: str) -> Piece:
    if not isinstance(item, Mapping):
        raise where.error(path, "expected a mapping {at_ms, text} or {at_ms, b64}")
    unknown = [k for k in item if k not in ("at_ms", "text", "b64")]
    if unknown:
        raise where.error(f"{path}.{unknown[0]}", f"unknown key {unknown[0]!r} (allowed: at_ms, "
                                                  "text, b64)")
    at = item.get("at_ms")
    if isinstance(at, bool) or not isinstance(at, (int, float)) or at < 0:
        raise where.error(f"{path}.at_ms", f"expected a number of ms, 0 or more; got {at!r}")
    if ("text" in item) == ("b64" in item):
        raise where.error(path, "give exactly one of text or b64")
    if "text" in item:
        text = item["text"]
        if not isinstance(text, str):
            raise where.error(f"{path}.text", f"expected a string, got {type(text).__name__}")
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            raise where.error(f"{path}.text", "contains a lone surrogate: use b64 for bytes "
                                              "that are not UTF-8") from None
    else:
        b64 = item["b64"]
        try:
            data = base64.b64decode(b64 if isinstance(b64, str) else "!", validate=True)
        except (binascii.Error, ValueError):
            raise where.error(f"{path}.b64", "not valid base64") from None
    return Piece(float(at), data)


def _checks(data: Mapping[str, Any], where: Where, path: str) -> None:
    """What the field types alone do not say; on the raw data, so that it is reported even when
    another field is wrong."""
    request = data.get("request") if isinstance(data.get("request"), Mapping) else {}
    response = data.get("response") if isinstance(data.get("response"), Mapping) else {}
    for part, section in (("request", request), ("response", response)):
        lines = section.get("headers")
        for i, line in enumerate(lines if isinstance(lines, list) else []):
            name, sep, _ = line.partition(":") if isinstance(line, str) else ("", "", "")
            if isinstance(line, str) and (not sep or not name.strip() or name != name.strip()):
                where.add(where.error(f"{path}.{part}.headers[{i}]",
                                      f"expected 'Name: value'; got {line!r}"))
    speed = data.get("speed")
    if isinstance(speed, (int, float)) and not isinstance(speed, bool) and speed <= 0:
        where.add(where.error(f"{path}.speed", f"must be more than 0; got {speed:g}"))
    bodies = [k for k in ("body", "body_text", "body_b64") if request.get(k) is not None]
    if len(bodies) > 1:
        where.add(where.error(f"{path}.request", f"give at most one of body, body_text, "
                                                 f"body_b64; got {' and '.join(bodies)}"))
    status = response.get("status")
    if isinstance(status, int) and not isinstance(status, bool) and not 100 <= status <= 599:
        where.add(where.error(f"{path}.response.status", f"must be an HTTP status (100-599) or "
                                                         f"null; got {status}"))
    fmt = data.get("format")
    if isinstance(fmt, str):
        from ..encoders import formats

        if fmt not in formats():
            where.add(where.error(f"{path}.format", f"unknown wire format {fmt!r} "
                                                    f"(known: {', '.join(sorted(formats()))})"))


def parse(data: Any, where: Where, path: str = "recording") -> Recording:
    """Build a :class:`Recording` from the plain ``recording:`` data; every mistake is reported
    with its line (``file:line: recording.response.pieces[3].b64: ...``)."""
    if not isinstance(data, Mapping):
        raise where.error(path, "expected a mapping (upstream, recorded_at, request, response)")
    data, before = dict(data), len(where.errors)
    pieces: Any = ()
    if isinstance(data.get("response"), Mapping) and "pieces" in data["response"]:
        response = dict(data["response"])  # the pieces are checked apart: there may be many
        pieces = where.attempt(_pieces, response.pop("pieces"), where, f"{path}.response.pieces")
        data["response"] = response
    recording = where.attempt(build, Recording, data, where, path, ("source",))
    _checks(data, where, path)
    if recording is BAD or pieces is BAD or len(where.errors) > before:
        raise Reported
    return replace(recording, response=replace(recording.response, pieces=pieces))


def recording_of(data: Mapping[str, Any], response: Any, where: Where) -> Recording | None:
    """The recording a scenario answers with: its own ``recording:`` section, or the one its
    ``response.recording`` names (a file of the same directory, by name or relative path).
    One that faults or another wire format apply to must decode (``sselab.record.decode``)."""
    own = data.get("recording")
    named = getattr(response, "recording", None) if response is not BAD else None
    if own is not None and named is not None:
        raise where.error("response.recording", "a recording file answers with its own "
                                                "recording; remove response.recording")
    if own is not None:
        recording = replace(parse(own, where), source=where.file)
        if data.get("faults"):
            _decodable(recording, where, "recording.format")
        return recording
    if named is not None:
        from .load import load_named

        recording = load_named(named, where)
        _decodable(recording, where, "response.recording")
        return recording
    return None


def _decodable(recording: Recording, where: Where, path: str) -> None:
    from .decode import DecodeError, decode

    try:
        decode(recording)
    except DecodeError as exc:
        raise where.error(path, f"faults and other wire formats need the recording decoded, "
                                f"and {exc}") from None
