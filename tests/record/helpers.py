"""Reading an answer piece by piece with the time each piece arrived (httpx, no buffering)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from sselab import load_file


@dataclass
class Read:
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    pieces: list[tuple[float, bytes]] = field(default_factory=list)  # (monotonic, bytes)
    error: BaseException | None = None
    sent: float = 0.0

    @property
    def data(self) -> list[bytes]:
        return [d for _, d in self.pieces]

    @property
    def body(self) -> bytes:
        return b"".join(self.data)

    def offsets_ms(self) -> list[float]:
        return [(t - self.sent) * 1000 for t, _ in self.pieces]


def read(url: str, body: Any = None, headers: dict[str, str] | None = None,
         method: str = "POST", timeout: float = 10.0) -> Read:
    out = Read()
    with httpx.Client(timeout=timeout) as client:
        out.sent = time.monotonic()
        try:
            with client.stream(method, url, json=body, headers=headers or {}) as resp:
                out.status, out.headers = resp.status_code, dict(resp.headers)
                for data in resp.iter_raw():
                    out.pieces.append((time.monotonic(), data))
        except httpx.HTTPError as exc:
            out.error = exc
    return out


def recording_of(path: Path) -> Any:
    scenario = load_file(path)
    assert scenario.recording is not None, path
    return scenario.recording


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in zip(times, times[1:])]


CHAT = {"model": "gpt-4o-mini", "stream": True,
        "messages": [{"role": "user", "content": "Say hello in a few languages."}]}
