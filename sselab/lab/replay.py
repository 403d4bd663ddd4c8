"""The bytes behind a request's recorded writes, for the lab's byte log.

The recorder keeps when each write happened and how big it was, not its bytes. Every byte
sselab sends is a pure function of the scenario and the request (the encoders never sleep, read
a clock or draw unseeded randomness), so the lab makes them again from the request the handler
saw (:mod:`sselab.lab.seen`) and lines them up with the recorded writes, one write per frame
or keep-alive. A recorded size that does not match (the scenario was replaced since, the request
body was trimmed) stops the line-up there, and the byte log says so.

Split points: a write that ends inside a frame (the ``split`` fault cut it) is marked, so the
log shows where a reader receives half an event or half a UTF-8 character.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from ..encoders import Frame, RequestInfo, WireFormat
from ..scenario.schema import Scenario
from ..script.events import Close, ErrorEvent, Reset, Script, Stall, Timed
from ..server.recorder import RequestRecord
from ..shaping import shape
from ..shaping.split_bytes import SplitFault

MAX_PIECES = 20_000  # a byte log longer than this is cut (firehose has 20,000 tokens)


@dataclass
class Piece:
    at: float  # when it was written, seconds after the request was received
    data: bytes
    kind: str = "data"  # data | keepalive
    split: bool = False  # ends inside a frame: the next data piece continues it


@dataclass
class Replay:
    pieces: list[Piece] = field(default_factory=list)  # one per recorded write, in order
    controls: list[Timed] = field(default_factory=list)  # scripted stalls, closes, resets
    errors: list[Timed] = field(default_factory=list)  # scripted error events
    exact: bool = True  # every recorded write lined up with a regenerated one
    note: str = ""

    def to_json(self, raw: bool = False) -> dict[str, Any]:
        """Each piece's bytes as text (undecodable bytes as ``\\xNN``); with ``raw``, also
        exactly, in base64."""
        pieces = []
        for p in self.pieces:
            out: dict[str, Any] = {"at_ms": round(p.at * 1000, 3), "bytes": len(p.data),
                                   "kind": p.kind, "split": p.split,
                                   "text": p.data.decode("utf-8", "backslashreplace")}
            if raw:
                out["base64"] = base64.b64encode(p.data).decode()
            pieces.append(out)
        return {"exact": self.exact, "note": self.note, "pieces": pieces}


def _expected(fmt: WireFormat, scenario: Scenario, script: Script, req: RequestInfo,
              stream: bool) -> tuple[list[tuple[bytes, bool]], list[Timed]]:
    """What the server writes for this request: (bytes, ends inside a frame) per data write
    in order, and the stream's control items."""
    if script.http_error is not None:
        return [(_body(fmt.error(script.http_error, req)[0]), False)], []
    if not stream:
        last = script.events[-1] if script.events else None
        if last is not None and isinstance(last.event, ErrorEvent):
            from ..encoders.base import KIND_STATUS
            from ..script.events import HttpError

            err = HttpError(KIND_STATUS.get(last.event.kind, 500), last.event.message,
                            last.event.kind)
            return [(_body(fmt.error(err, req)[0]), False)], []
        if last is not None and (isinstance(last.event, (Close, Reset)) or (
                isinstance(last.event, Stall) and last.event.seconds is None)):
            return [], [last]
        return [(_body(fmt.complete(script, req)), False)], []
    splits = [f for f in scenario.faults if isinstance(f, SplitFault)]
    others = [f for f in scenario.faults if not isinstance(f, SplitFault)]
    whole = [len(i.data) for i in _bounded(shape(fmt.stream(script, req), others))
             if isinstance(i, Frame)]
    out: list[tuple[bytes, bool]] = []
    controls: list[Timed] = []
    frame, used = 0, 0  # position inside the unsplit frames
    for item in _bounded(shape(fmt.stream(script, req), [*others, *splits])):
        if not isinstance(item, Frame):
            controls.append(item)
            continue
        used += len(item.data)
        inside = frame < len(whole) and used < whole[frame]
        if not inside:
            frame, used = frame + 1, 0
        out.append((item.data, inside))
    return out, controls


def _bounded(items: Any) -> Any:
    for n, item in enumerate(items):
        if n >= MAX_PIECES:
            return
        yield item


def _body(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


def replay(rec: RequestRecord, req: RequestInfo | None, fmt: WireFormat | None,
           scenario: Scenario | None, script: Script | None) -> Replay:
    """The recorded writes of ``rec`` with their bytes, as far as they line up."""
    writes = list(rec.writes)
    if req is None or fmt is None or scenario is None or script is None:
        why = ("the request is no longer kept (the lab keeps the last few dozen)"
               if req is None else "it was refused before a scenario was chosen")
        return Replay([], [], [], False, f"bytes not shown: {why}")
    expected, controls = _expected(fmt, scenario, script, req, bool(rec.stream))
    errors = [t for t in script.events if isinstance(t.event, ErrorEvent)]
    keepalive_stall = any(isinstance(c.event, Stall) and c.event.keepalive for c in controls)
    pieces: list[Piece] = []
    i = 0
    for t, n, _, _ in writes:
        at = t - rec.received
        if i < len(expected) and len(expected[i][0]) == n:
            pieces.append(Piece(at, expected[i][0], "data", expected[i][1]))
            i += 1
        elif keepalive_stall and n == len(fmt.keepalive):
            pieces.append(Piece(at, fmt.keepalive, "keepalive"))
        else:
            return Replay(pieces, controls, errors, False,
                          f"bytes shown for the first {len(pieces)} of {len(writes)} writes: "
                          f"write {len(pieces) + 1} ({n} B) does not match the scenario as it "
                          "is now (replaced since, or the request body was trimmed)")
    note = f"{rec.writes_dropped} more writes were not kept in detail" \
        if rec.writes_dropped else ""
    return Replay(pieces, controls, errors, True, note)
