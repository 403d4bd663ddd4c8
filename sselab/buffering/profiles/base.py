"""The one interface every buffering profile implements, and the registry of profiles by name.

A profile is a :class:`Profile` value built in its own module (``nginx.py``, ``full_buffer.py``,
...) and passed to :func:`register`. Its ``behaviour`` is a dataclass of parameters with one
method, ``plan(request, head) -> Plan``: given the client's request and the upstream's response
head, it decides the downstream status and headers and returns a :class:`Stage` — a pure state
machine fed the upstream's raw body bytes one read at a time, which returns the bytes to write
downstream *now*. Stages never sleep and never touch a socket, so each profile's buffering is
unit-testable without sockets; the emulator (``emulator.py``) owns every socket and every write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from .._http import Head

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
    "upgrade", "proxy-authenticate",
})


@dataclass(frozen=True)
class RequestInfo:
    """What a profile may read of the client's request (header names lower-cased)."""

    method: str = "GET"
    path: str = "/"
    version: tuple[int, int] = (1, 1)
    headers: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


class Stage(Protocol):
    """Body transform: raw upstream bytes in (one read at a time), downstream bytes out."""

    complete: bool  # the upstream's framing says the body is complete

    def feed(self, raw: bytes) -> bytes: ...

    def finish(self) -> bytes: ...  # the upstream closed: whatever is still held


@dataclass
class Plan:
    """How one response goes downstream."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    stage: Stage
    headers_early: bool = True  # send the head before any body byte is ready
    read_size: int = 65536  # most upstream bytes taken per read
    content_length: bool = False  # answer with Content-Length once the body is whole
    mode: str = ""  # one phrase for logs and reports, e.g. "buffered (4096-byte buffers)"


class Behaviour(Protocol):
    upstream_version: str  # HTTP version of requests sent upstream: "1.0" or "1.1"
    max_head: int  # largest upstream response head accepted (else 502)

    def plan(self, request: RequestInfo, head: Head) -> Plan: ...


@dataclass(frozen=True)
class Profile:
    """A named middlebox: its behaviour, and what a user must know about it."""

    name: str
    summary: str
    trigger: str
    symptom: str
    fix: str
    behaviour: Behaviour
    read_timeout: float = 60.0  # between two upstream reads (504 before the head arrives)
    connect_timeout: float = 60.0


def forwardable(head: Head, drop: frozenset[str] = frozenset()) -> list[tuple[str, str]]:
    """The upstream's headers minus hop-by-hop ones and any name in ``drop`` (lower-case)."""
    return [(k, v) for k, v in head.headers if k.lower() not in HOP_BY_HOP | drop]


_registry: dict[str, Profile] = {}


def register(profile: Profile) -> Profile:
    if profile.name in _registry:
        raise ValueError(f"buffering profile {profile.name!r} is already registered")
    _registry[profile.name] = profile
    return profile


def registry() -> Mapping[str, Profile]:
    return dict(_registry)
