"""Settings: arguments of ``create_app`` first, then the environment, then defaults.

==============================  =====================================  ======================
environment variable            meaning                                default
==============================  =====================================  ======================
OPENAI_BASE_URL                 the OpenAI-compatible API base          http://127.0.0.1:8787/v1
                                (``.../v1``)                           (``sselab serve``)
OPENAI_API_KEY                  sent as ``Authorization: Bearer``       none
REFERENCE_MODEL                 model when the request names none       $OPENAI_MODEL or
                                                                       gpt-4o-mini
REFERENCE_IDLE_TIMEOUT          seconds without upstream data before   10
                                the answer fails (0: never)
REFERENCE_KEEPALIVE_INTERVAL    seconds of browser silence before a    5
                                ``: keep-alive`` comment
REFERENCE_RESUME_GRACE          seconds the provider call waits for a  1
                                dropped browser to reconnect (0: stop
                                at once; Stop always stops at once)
REFERENCE_UPSTREAM_API          ``chat`` (Chat Completions) or         chat
                                ``responses`` (Responses background
                                mode: the app resumes a broken
                                provider stream)
REFERENCE_BROKEN                broken flags, comma-separated (for     none
                                sselab's own tests, never copy)
==============================  =====================================  ======================
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .broken import Flags

DEFAULT_BASE_URL = "http://127.0.0.1:8787/v1"
DEFAULT_MODEL = "gpt-4o-mini"
UPSTREAM_APIS = ("chat", "responses")


class ConfigError(ValueError):
    """A setting has a value the app cannot use; the message names the setting."""


@dataclass(frozen=True)
class Config:
    upstream_base_url: str = DEFAULT_BASE_URL
    api_key: str = ""
    model: str = DEFAULT_MODEL
    idle_timeout: float | None = 10.0  # None: never time out
    keepalive_interval: float = 5.0
    connect_timeout: float = 10.0
    resume_grace: float = 1.0
    upstream_api: str = "chat"  # "chat" | "responses"
    flags: Flags = field(default_factory=Flags)


def _seconds(name: str, value: float | str, *, allow_zero: bool) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number of seconds, got {value!r}") from None
    if seconds < 0 or (seconds == 0 and not allow_zero) or seconds != seconds:
        raise ConfigError(f"{name} must be {'0 or ' if allow_zero else ''}more than 0 "
                          f"seconds, got {value!r}")
    return seconds


def make_config(*, upstream_base_url: str | None = None, api_key: str | None = None,
                model: str | None = None, idle_timeout: float | None = None,
                keepalive_interval: float | None = None, connect_timeout: float | None = None,
                resume_grace: float | None = None, upstream_api: str | None = None,
                flags: Flags | str | Iterable[str] | None = None,
                env: Mapping[str, str] | None = None) -> Config:
    """A :class:`Config` from explicit values (None: ask the environment, then the default)."""
    env = os.environ if env is None else env
    base_url = upstream_base_url or env.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"upstream_base_url (OPENAI_BASE_URL) must start with http:// or "
                          f"https://, got {base_url!r}")
    idle = idle_timeout if idle_timeout is not None else env.get("REFERENCE_IDLE_TIMEOUT", 10.0)
    idle_s = _seconds("idle_timeout (REFERENCE_IDLE_TIMEOUT)", idle, allow_zero=True)
    keepalive = (keepalive_interval if keepalive_interval is not None
                 else env.get("REFERENCE_KEEPALIVE_INTERVAL", 5.0))
    grace = resume_grace if resume_grace is not None else env.get("REFERENCE_RESUME_GRACE", 1.0)
    api = upstream_api or env.get("REFERENCE_UPSTREAM_API") or "chat"
    if api not in UPSTREAM_APIS:
        raise ConfigError(f"upstream_api (REFERENCE_UPSTREAM_API) must be one of "
                          f"{', '.join(UPSTREAM_APIS)}, got {api!r}")
    try:
        parsed_flags = Flags.parse(flags if flags is not None else env.get("REFERENCE_BROKEN"))
    except ValueError as exc:
        raise ConfigError(f"flags (REFERENCE_BROKEN): {exc}") from None
    return Config(
        upstream_base_url=base_url,
        api_key=api_key if api_key is not None else env.get("OPENAI_API_KEY", ""),
        model=model or env.get("REFERENCE_MODEL") or env.get("OPENAI_MODEL") or DEFAULT_MODEL,
        idle_timeout=idle_s or None,
        keepalive_interval=_seconds("keepalive_interval (REFERENCE_KEEPALIVE_INTERVAL)",
                                    keepalive, allow_zero=False),
        connect_timeout=_seconds("connect_timeout", 10.0 if connect_timeout is None
                                 else connect_timeout, allow_zero=False),
        resume_grace=_seconds("resume_grace (REFERENCE_RESUME_GRACE)", grace, allow_zero=True),
        upstream_api=api,
        flags=parsed_flags,
    )
