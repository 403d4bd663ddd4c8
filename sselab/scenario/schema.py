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
    resume: {event_ids: true, retry_ms: 500}  # plain SSE ids for Last-Event-ID
    faults:
      - {type: error_event, at_token: 40, kind: overloaded}

Fault entries are validated against the dataclass of their ``type`` (``sselab.shaping``).
Each field's ``doc`` metadata is its one-line reference: the guide's scenario reference page is
generated from these dataclasses (``sselab._docgen``), so it cannot drift from the validator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


def doc(text: str, shown_default: str | None = None, **kwargs: Any) -> Any:
    """A dataclass field carrying its one-line reference (and, where the loader supplies the
    default rather than the dataclass, the default to show) for the generated docs."""
    return field(metadata={"doc": text, "shown_default": shown_default}, **kwargs)


Tokenize = Literal["words", "chars", "approx4"]
FinishReason = Literal["stop", "length", "tool_calls"]


@dataclass(frozen=True)
class FakerText:
    """Deterministic generated text: same seed, same text (for a given Faker version)."""

    seed: int = doc("Faker seed: the same seed gives the same text", default=0)
    sentences: int | None = doc("number of sentences, 1 to 20,000 (default 3 when no count is "
                                "given)", default=None)
    paragraphs: int | None = doc("number of paragraphs, 1 to 5,000", default=None)
    words: int | None = doc("number of words, 1 to 200,000 (give at most one of sentences, "
                            "paragraphs, words)", default=None)
    locale: str = doc("Faker locale, one the installed Faker has, e.g. `de_DE`",
                      default="en_US")


@dataclass(frozen=True)
class ToolCallSpec:
    name: str = doc("the tool's name")
    arguments: Any = doc("a mapping (sent as JSON) or a string of JSON", default_factory=dict)
    id: str | None = doc("the call id (default: derived from the scenario)", default=None)


@dataclass(frozen=True)
class Response:
    text: str | None = doc("the literal answer text", default=None)
    faker: FakerText | None = doc("generated text instead of `text`", default=None)
    json: Any = doc("JSON output, streamed as its text", default=None)
    tool_calls: list[ToolCallSpec] = doc("tool calls, streamed as argument fragments",
                                         default_factory=list)
    thinking: str | None = doc("reasoning text (Anthropic thinking deltas, Responses "
                               "reasoning)", default=None)
    finish_reason: FinishReason | None = doc("the finish reason (default: derived from the "
                                             "answer)", default=None)
    recording: str | None = doc("answer with a recording instead (its name in this directory, "
                                "or a path): faults and every wire format apply to it",
                                default=None)


@dataclass(frozen=True)
class Burst:
    """Tokens come ``size`` at a time (``token_ms`` apart in a burst), ``pause_ms`` between."""

    size: int = doc("tokens per burst")
    pause_ms: float = doc("milliseconds between bursts")


@dataclass(frozen=True)
class Timing:
    ttft_ms: float = doc("milliseconds before the first token", default=0.0)
    token_ms: float = doc("milliseconds between tokens", default=0.0)
    jitter_ms: float = doc("± uniform jitter on each gap, from `seed`", default=0.0)
    seed: int = doc("seed of the jitter", default=0)
    burst: Burst | None = doc("tokens in groups", default=None)


@dataclass(frozen=True)
class UsageSpec:
    input_tokens: int = doc("prompt tokens reported in usage", default=12)


@dataclass(frozen=True)
class ResumeSpec:
    """How a stream can be picked up again after a dropped connection (see Resumable streams)."""

    event_ids: bool | None = doc("plain SSE events carry `id: STREAM:N`, so a client can resume "
                                 "with `Last-Event-ID`", shown_default="on for `GET /sse`, off "
                                 "for `POST /sse`", default=None)
    retry_ms: int | None = doc("plain SSE: the first event carries `retry: N`, the delay "
                               "before EventSource reconnects", default=None)


@dataclass(frozen=True)
class Scenario:
    name: str = doc("the scenario's name", shown_default="the file name without `.yaml`")
    description: str = doc("one line shown by `sselab scenarios`", shown_default="empty")
    response: Response = doc("what the model answers (required)")
    tokenize: Tokenize = doc("how the answer is cut into tokens: words (leading space kept), "
                             "chars, approx4 (~4 characters)", default="words")
    timing: Timing = doc("when each token is sent", default_factory=Timing)
    usage: UsageSpec = doc("the usage figures reported", default_factory=UsageSpec)
    faults: tuple[Any, ...] = doc("what goes wrong, in order (see Faults)", default=())
    resume: ResumeSpec = doc("resumable streams: event ids and the reconnect delay",
                             default_factory=ResumeSpec)
    source: str | None = field(default=None, metadata={"internal": True})  # file it came from
    # a recorded exchange (sselab.record.schema.Recording): its own or the one response names
    recording: Any = field(default=None, compare=False, metadata={"internal": True})
