"""What one load run does (:class:`LoadOptions`) and the caps that keep every run bounded.

Plain data, no Locust import: the CLI builds it, the master ships it to its workers inside
Locust's own spawn message (as a dict), and each :class:`~sselab.load.StreamUser` reads it.
Bad values raise :class:`~sselab.errors.ConfigError` naming the option.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ..check.target import Target
from ..errors import ConfigError, SselabError

# Caps: every run ends, and a default run is gentle on a laptop.
DEFAULT_USERS = 10
MAX_USERS_PER_PROCESS = 1000  # one load-generating process holds about this many streams
MAX_WORKERS = 64
DEFAULT_RUN_TIME = 30.0
MAX_RUN_TIME = 3600.0
DEFAULT_STREAM_TIMEOUT = 60.0
MAX_STREAM_TIMEOUT = 600.0
MAX_STOP_TIMEOUT = 60.0
FAILURE_PAUSE = 0.5  # s a user waits after a stream that failed, so errors cannot spin a core



class PreflightFailed(SselabError):
    """The endpoint cannot be load-tested as configured (the message says why): exit 1."""


_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*h)?\s*(?:(\d+(?:\.\d+)?)\s*m)?\s*"
                       r"(?:(\d+(?:\.\d+)?)\s*s?)?\s*$", re.I)


def parse_duration(value: str | float, option: str = "--run-time") -> float:
    """``30``, ``30s``, ``2m``, ``1h30m``, ``1m30s`` → seconds (Locust's spelling)."""
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        m = _DURATION.match(value)
        if not m or not any(m.groups()):
            raise ConfigError(f"{option}: expected a duration like 30, 30s, 2m or 1h, "
                              f"got {value!r}")
        h, mins, s = (float(g) if g else 0.0 for g in m.groups())
        seconds = h * 3600 + mins * 60 + s
    if seconds <= 0:
        raise ConfigError(f"{option}: must be more than 0 seconds, got {value!r}")
    return seconds


@dataclass
class LoadOptions:
    """How every simulated user streams: the request (as ``sselab check`` makes it) and its
    bounds."""

    endpoint: str = "http://127.0.0.1:8000/api/chat"
    method: str = "POST"
    body: Any = None  # None: sselab check's default chat body
    headers: list[tuple[str, str]] = field(default_factory=list)
    extract: str = "auto"
    stream_timeout: float = DEFAULT_STREAM_TIMEOUT  # s for one whole stream
    connect_timeout: float = 5.0
    wait: float = 0.1  # s a user pauses between its streams
    abort_share: float = 0.0  # share of streams the client drops on purpose
    abort_after: float = 1.0  # s after the first token that a dropped stream is dropped

    def __post_init__(self) -> None:
        self.headers = [(str(k), str(v)) for k, v in self.headers]
        self.target()  # validates endpoint, method, extract
        for name, low, high in (("stream_timeout", 0.1, MAX_STREAM_TIMEOUT),
                                ("connect_timeout", 0.1, 60.0), ("wait", 0.0, 60.0),
                                ("abort_share", 0.0, 1.0), ("abort_after", 0.0, 600.0)):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not low <= value <= high:
                raise ConfigError(f"--{name.replace('_', '-')}: must be between {low:g} and "
                                  f"{high:g}, got {value!r}")

    def target(self) -> Target:
        body = self.body
        if body is None:
            from ..check.target import DEFAULT_BODY

            body = dict(DEFAULT_BODY)
        return Target(self.endpoint, self.method, body, list(self.headers), self.extract)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["headers"] = [list(h) for h in self.headers]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoadOptions:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def check_users(users: int, workers: int = 1) -> int:
    """The user cap: at most :data:`MAX_USERS_PER_PROCESS` per load-generating process."""
    cap = MAX_USERS_PER_PROCESS * max(1, workers)
    if users < 1:
        raise ConfigError(f"--users: must be at least 1, got {users}")
    if users > cap:
        more = ("" if workers > 1 else "; run --master with workers (--expect-workers) "
                                       "for more")
        raise ConfigError(f"--users: at most {MAX_USERS_PER_PROCESS} per load-generating "
                          f"process ({cap} here), got {users}{more}")
    return users
