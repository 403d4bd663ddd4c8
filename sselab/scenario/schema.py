"""Scenario dataclasses: the validated, typed form of a scenario file.

A scenario file is YAML::

    name: mid-stream-error              # optional; defaults to the file name without .yaml
    description: One line shown by `sselab scenarios`.
    response:                           # exactly one of text / faker / json, plus optional extras
      text: "Hello there"
      faker: {seed: 7, sentences: 4}
      json: {answer: 42}
      tool_calls: [{name: get_weather, arguments: {city: Paris}}]
      thinking: "Let me think."
      finish_reason: stop               # stop | length | tool_calls (default: derived)
    tokenize: words                     # words | chars | approx4
    timing: {ttft_ms: 200, token_ms: 30, jitter_ms: 5, seed: 1, burst: {size: 5, pause_ms: 200}}
    usage: {input_tokens: 12}
    faults:
      - {type: error_event, at_token: 40, kind: overloaded}

Fault entries are validated against the dataclass of their ``type`` (``sselab.shaping``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Tokenize = Literal["words", "chars", "approx4"]
FinishReason = Literal["stop", "length", "tool_calls"]


@dataclass(frozen=True)
class FakerText:
    """Deterministic generated text: same seed, same text (for a given Faker version)."""

    seed: int = 0
    sentences: int | None = None
    paragraphs: int | None = None
    words: int | None = None
    locale: str = "en_US"


@dataclass(frozen=True)
class ToolCallSpec:
    name: str
    arguments: Any = field(default_factory=dict)  # a mapping (sent as JSON) or a JSON string
    id: str | None = None


@dataclass(frozen=True)
class Response:
    text: str | None = None
    faker: FakerText | None = None
    json: Any = None
    tool_calls: list[ToolCallSpec] = field(default_factory=list)
    thinking: str | None = None
    finish_reason: FinishReason | None = None


@dataclass(frozen=True)
class Burst:
    """Tokens come ``size`` at a time (``token_ms`` apart in a burst), ``pause_ms`` between."""

    size: int
    pause_ms: float


@dataclass(frozen=True)
class Timing:
    ttft_ms: float = 0.0
    token_ms: float = 0.0
    jitter_ms: float = 0.0
    seed: int = 0
    burst: Burst | None = None


@dataclass(frozen=True)
class UsageSpec:
    input_tokens: int = 12


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    response: Response
    tokenize: Tokenize = "words"
    timing: Timing = field(default_factory=Timing)
    usage: UsageSpec = field(default_factory=UsageSpec)
    faults: tuple[Any, ...] = ()  # instances of sselab.shaping fault dataclasses
    source: str | None = None  # file it was loaded from
