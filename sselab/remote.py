"""A simulator's timeline read over its control API, as :class:`RequestRecord` objects.

Used by :class:`sselab.workers.Workers`, whose records live in other processes: the listing
(``/_sselab/requests?writes=1``, every page) is turned back into records that read like the
ones a :class:`~sselab.Simulator` holds (the same fields, ``writes``, ``write_count``...).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

from .errors import ConfigError
from .server.recorder import _OFFSET, RequestRecord

MAX_PAGES = 10_000  # a listing of at most ten million records
TIMEOUT = 60.0


def _mono(at: float | None) -> float | None:
    return None if at is None else at - _OFFSET


def record_from_json(d: dict[str, Any]) -> RequestRecord:
    """A record as ``/_sselab/requests?writes=1`` lists it, back as a :class:`RequestRecord`."""
    rec = RequestRecord(d["id"], d["method"], d["path"], _mono(d["received_at"]) or 0.0,
                        format=d["format"], scenario=d["scenario"], model=d["model"],
                        stream=d["stream"], status=d["status"], outcome=d["outcome"],
                        error=d["error"], first_byte=_mono(d["first_byte_at"]),
                        ended=_mono(d["ended_at"]),
                        client_disconnected=_mono(d["client_disconnected_at"]),
                        blocked_since=_mono(d["blocked_since"]),
                        drain_wait=d["drain_wait_ms"] / 1000, bytes_written=d["bytes_written"],
                        writes_dropped=d["writes_dropped"])
    for w in d.get("writes", ()):
        rec._at.append(w["at"] - _OFFSET)  # noqa: SLF001
        rec._nbytes.append(w["bytes"])  # noqa: SLF001
        rec._drain.append(w["drain_wait_ms"] / 1000)  # noqa: SLF001
        rec._late.append(w["late_ms"] / 1000)  # noqa: SLF001
    return rec


def call(base_url: str, method: str, path: str, body: Any = None, *,
         token: str | None = None) -> Any:
    """One control request (with ``Authorization: Bearer TOKEN`` when given); its JSON answer.
    A 4xx/5xx answer is a :class:`ConfigError`."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(base_url + path, method=method, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        text = exc.read().decode(errors="replace")
        try:
            text = json.loads(text).get("error", text)
        except (ValueError, AttributeError):
            pass
        raise ConfigError(f"{method} {path}: {exc.code} {text}") from None


class RemoteRecorder:
    """The parts of :class:`~sselab.server.recorder.Recorder` a test reads, over HTTP."""

    def __init__(self, base_url: Callable[[], str], token: str | None = None) -> None:
        self._base, self._token = base_url, token

    def _get(self, path: str) -> Any:
        return call(self._base(), "GET", path, token=self._token)

    def pages(self, writes: bool = True) -> Iterator[dict[str, Any]]:
        since = ""
        for _ in range(MAX_PAGES):
            page = self._get(f"/_sselab/requests?limit=1000&since={since}"
                             f"&writes={int(writes)}")
            yield page
            if page["next"] is None:
                return
            since = page["next"]

    @property
    def requests(self) -> list[RequestRecord]:
        return [record_from_json(r) for p in self.pages() for r in p["requests"]]

    def __iter__(self) -> Iterator[RequestRecord]:
        return iter(self.requests)

    def __len__(self) -> int:
        return int(self._get("/_sselab/requests?limit=1")["timeline"]["requests"])

    @property
    def in_flight(self) -> int:
        return int(self._get("/_sselab/requests?limit=1")["timeline"]["in_flight"])

    @property
    def call_count(self) -> int:
        return len(self)

    @property
    def called(self) -> bool:
        return len(self) > 0

    @property
    def last(self) -> RequestRecord | None:
        found = self.requests
        return found[-1] if found else None

    def get(self, request_id: str) -> RequestRecord | None:
        try:
            return record_from_json(self._get(f"/_sselab/requests/{request_id}"))
        except ConfigError:
            return None

    def find(self, predicate: Callable[[RequestRecord], bool]) -> RequestRecord | None:
        return next((r for r in reversed(self.requests) if predicate(r)), None)

    def reset(self) -> None:
        call(self._base(), "POST", "/_sselab/reset", {}, token=self._token)
