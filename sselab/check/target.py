"""The endpoint under test (:class:`Target`) and the bounds every check is judged by
(:class:`Settings`). Bad input raises :class:`~sselab.errors.ConfigError` naming the option.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .extract import validate_mode
from .http_client import Request, split_url

DEFAULT_BODY: dict[str, Any] = {
    "messages": [{"role": "user", "content": "sselab check: please stream an answer."}],
}
METHODS = ("GET", "POST", "PUT", "PATCH")


@dataclass
class Target:
    """How to ask the team's endpoint for one streamed answer."""

    endpoint: str
    method: str = "POST"
    body: Any = field(default_factory=lambda: dict(DEFAULT_BODY))
    headers: list[tuple[str, str]] = field(default_factory=list)
    extract: str = "auto"

    def __post_init__(self) -> None:
        split_url(self.endpoint)
        self.method = self.method.upper()
        if self.method not in METHODS:
            raise ConfigError(f"--method: expected one of {', '.join(METHODS)}, "
                              f"got {self.method!r}")
        validate_mode(self.extract)

    def request(self) -> Request:
        body = None
        if self.method != "GET" and self.body is not None:
            body = self.body if isinstance(self.body, bytes) else json.dumps(self.body).encode()
        return Request(self.endpoint, self.method, body, list(self.headers))


@dataclass
class Settings:
    """The bounds each check judges by. Defaults are generous: they catch broken streaming, not
    a slow CI box."""

    first_token_bound: float = 0.75  # progressive: s from the upstream's first token
    relay_ratio: float = 0.5  # progressive: client arrivals / upstream tokens, at least
    abort_bound: float = 1.5  # abort: s from the client leaving to the upstream call closing
    error_bound: float = 3.0  # mid-stream error: s from the upstream error to its indication
    stall_wait: float = 15.0  # stall: s of upstream silence to wait for the endpoint's timeout
    read_ahead_bound: int = 8 * 1024 * 1024  # slow consumer: bytes held in the team's server
    slow_stream_bytes: int = 24 * 1024 * 1024  # slow consumer: size of the upstream answer
    http_error_bound: float = 5.0  # upstream errors: s for the endpoint to answer
    concurrency: int = 4  # concurrency: parallel streams
    resume_delay: float = 0.3  # resume: s between the cut and the reconnect
    connect_timeout: float = 5.0
    preflight_timeout: float = 10.0  # s for the first, short answer to complete

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(f"{name.replace('_', '-')}: must be a positive number, "
                                  f"got {value!r}")
        if self.concurrency < 2:
            raise ConfigError(f"concurrency: must be at least 2, got {self.concurrency}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def parse_body(value: str | None) -> Any:
    """``--body``: JSON text, or ``@file`` holding JSON; None gives the default chat body."""
    if value is None:
        return dict(DEFAULT_BODY)
    text = value
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"--body: cannot read {path}: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        where = value if not value.startswith("@") else value[1:]
        raise ConfigError(f"--body: not valid JSON ({exc}) in {where[:80]!r}") from None


def parse_header(value: str) -> tuple[str, str]:
    """``--header 'K: V'``."""
    name, sep, val = value.partition(":")
    if not sep or not name.strip() or any(c in name for c in " \t\r\n"):
        raise ConfigError(f"--header: expected 'Name: value', got {value!r}")
    if "\r" in val or "\n" in val:
        raise ConfigError(f"--header: line breaks are not allowed in {value!r}")
    return name.strip(), val.strip()
