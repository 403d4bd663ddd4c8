"""Which recording a request gets: VCR-style matching on method, path, model and conversation.

A recording's ``match`` list says what a request must share with it (default: method, path,
model, conversation; also query and the whole body). Recordings that match the same request
replay in the order they were recorded, then the last one again. A request that matches none
gets a message naming the nearest recording and what differed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from ..scenario.schema import Scenario
from .redact import SECRET_PARAMS
from .schema import Recording

# the parts of a request body that are "the conversation", across the wire formats
CONVERSATION_KEYS = ("system", "instructions", "systemInstruction", "system_instruction",
                     "messages", "input", "contents", "prompt", "tools")


@dataclass(frozen=True)
class Incoming:
    method: str
    path: str
    query: str = ""
    body: Any = None  # the parsed JSON body (None: no body, or not JSON)

    @classmethod
    def from_raw(cls, method: str, path: str, query: str, raw: bytes) -> Incoming:
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError:
            body = None
        return cls(method, path, query, body)


def is_recording(scenario: Scenario) -> bool:
    """A recording file (not a scenario that answers with one)."""
    return scenario.recording is not None and scenario.response.recording is None


def recorded_body(rec: Recording) -> Any:
    req = rec.request
    if req.body is not None:
        return req.body
    if req.body_text is not None:
        try:
            return json.loads(req.body_text)
        except ValueError:
            return None
    return None


def _query(query: str) -> list[tuple[str, str]]:
    return sorted((k, v) for k, v in parse_qsl(query, keep_blank_values=True)
                  if k.lower() not in SECRET_PARAMS)


def _value(criterion: str, method: str, path: str, query: str, body: Any) -> Any:
    if criterion == "method":
        return method.upper()
    if criterion == "path":
        return path
    if criterion == "query":
        return _query(query)
    body = body if isinstance(body, Mapping) else {}
    if criterion == "model":
        return body.get("model")
    if criterion == "conversation":
        return {k: body[k] for k in CONVERSATION_KEYS if k in body}
    return body  # "body"


def _first_difference(a: Any, b: Any, path: str = "") -> str:
    """Where two JSON values first differ, and how (``messages[1].content: 'x' vs 'y'``)."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in [*a, *(k for k in b if k not in a)]:
            sub = f"{path}.{key}" if path else str(key)
            if key not in b:
                return f"{sub}: recorded, absent from the request"
            if key not in a:
                return f"{sub}: in the request, not recorded"
            if a[key] != b[key]:
                return _first_difference(a[key], b[key], sub)
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return _first_difference(x, y, f"{path}[{i}]")
        if len(a) != len(b):
            return f"{path or 'list'}: recorded {len(a)} items, the request has {len(b)}"
    return f"{path or 'value'}: recorded {_short(a)}, got {_short(b)}"


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def differences(rec: Recording, incoming: Incoming) -> list[str]:
    """What differs between the request and the recording, on the recording's criteria."""
    body = recorded_body(rec)
    out = []
    for criterion in rec.match:
        want = _value(criterion, rec.request.method, rec.request.path, rec.request.query, body)
        got = _value(criterion, incoming.method, incoming.path, incoming.query, incoming.body)
        if want != got:
            detail = (_first_difference(want, got) if isinstance(want, (dict, list))
                      else f"recorded {_short(want)}, got {_short(got)}")
            out.append(f"{criterion} ({detail})")
    return out


def ordered(recordings: Iterable[Scenario]) -> list[Scenario]:
    return sorted(recordings, key=lambda s: (s.recording.recorded_at, s.name))


def pick(recordings: Iterable[Scenario], incoming: Incoming,
         played: MutableMapping[str, int]) -> Scenario | None:
    """The next matching recording (recorded order; after the last, the last again)."""
    matches = [s for s in ordered(recordings) if not differences(s.recording, incoming)]
    if not matches:
        return None
    chosen = next((s for s in matches if not played.get(s.name)), matches[-1])
    played[chosen.name] = played.get(chosen.name, 0) + 1
    return chosen


def no_match(recordings: Iterable[Scenario], incoming: Incoming) -> str:
    """The message for a request no recording matches: the nearest one and what differed."""
    found = ordered(recordings)
    model = incoming.body.get("model") if isinstance(incoming.body, Mapping) else None
    what = f"{incoming.method} {incoming.path}" + (f" (model {model})" if model else "")
    if not found:
        return f"sselab: no recording matches {what}: there are no recordings"
    scored = [(len(differences(s.recording, incoming)), i, s) for i, s in enumerate(found)]
    _, _, nearest = min(scored, key=lambda t: (t[0], t[1]))
    where = f" ({nearest.source})" if nearest.source else ""
    return (f"sselab: no recording matches {what}; the nearest, {nearest.name}{where}, "
            f"differs in {'; '.join(differences(nearest.recording, incoming))}")
