"""The one interface every wire format implements, and the registry of formats by name.

A wire format is a :class:`WireFormat` value built in its own module (``openai_chat.py``,
``anthropic.py``, ...) and passed to :func:`register`. Adding a format is one new file in this
folder: ``sselab.encoders`` imports every module here on first use.

An encoder's ``stream`` is a pure function ``(Script, RequestInfo) -> Iterator[Item]``: it walks
the script's timed events and yields :class:`Frame` (bytes due at a time) for content and the
script's control events (:class:`~sselab.script.events.Timed` holding a Stall, Close or
Reset) untouched. It never sleeps and never touches a socket.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..script.events import HttpError, Script, Timed


@dataclass(frozen=True, slots=True)
class Frame:
    at: float  # seconds after the request was received
    data: bytes


Item = Frame | Timed  # a Timed here always holds a control event


@dataclass
class RequestInfo:
    """What an encoder may read of the request it answers."""

    request_id: str
    format: str
    method: str = "POST"
    path: str = "/"
    model: str | None = None
    stream: bool = True
    body: dict[str, Any] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    path_params: Mapping[str, str] = field(default_factory=dict)
    created: int = 0  # unix seconds, for "created" fields


@dataclass(frozen=True)
class Inspection:
    """What a format reads off an incoming request before a scenario is chosen."""

    model: str | None
    stream: bool


@dataclass(frozen=True)
class Lookup:
    """A metadata route a format's clients call before chatting (Ollama's ``/api/tags``),
    answered from the scenario list: ``answer(scenarios, body)`` gets every scenario's name and
    description and the request's JSON body, and returns ``(status, JSON body)``."""

    method: str
    path: str
    answer: Callable[[Mapping[str, str], dict[str, Any]], tuple[int, dict[str, Any]]]


@dataclass(frozen=True)
class WireFormat:
    name: str
    description: str
    routes: tuple[tuple[str, str], ...]  # (method, aiohttp path pattern)
    # (body, path_params, query) -> model named by the request and whether it asks for a stream
    inspect: Callable[[dict[str, Any], Mapping[str, str], Mapping[str, str]], Inspection]
    stream: Callable[[Script, RequestInfo], Iterator[Item]]
    complete: Callable[[Script, RequestInfo], dict[str, Any]]  # the non-streaming JSON body
    # the provider's own error body and headers for an error before the stream
    error: Callable[[HttpError, RequestInfo], tuple[dict[str, Any], dict[str, str]]]
    # extra headers on every response of this format (request ids, protocol markers)
    headers: Callable[[RequestInfo], dict[str, str]] = lambda req: {}
    content_type: str = "text/event-stream"
    keepalive: bytes = b": keep-alive\n\n"
    lookups: tuple[Lookup, ...] = ()


_REGISTRY: dict[str, WireFormat] = {}


def register(fmt: WireFormat) -> WireFormat:
    if fmt.name in _REGISTRY:
        raise ValueError(f"wire format {fmt.name!r} is registered twice")
    _REGISTRY[fmt.name] = fmt
    return fmt


def registry() -> Mapping[str, WireFormat]:
    from types import MappingProxyType

    return MappingProxyType(_REGISTRY)


# Neutral error kinds (ErrorEvent.kind / HttpError.kind) and their usual HTTP statuses.
KIND_STATUS = {
    "invalid_request": 400,
    "authentication": 401,
    "permission": 403,
    "not_found": 404,
    "rate_limit": 429,
    "server_error": 500,
    "unavailable": 503,
    "overloaded": 529,
}
STATUS_KIND = {v: k for k, v in KIND_STATUS.items()}


def kind_for_status(status: int) -> str:
    return STATUS_KIND.get(status, "server_error" if status >= 500 else "invalid_request")
