"""Compile a :class:`Scenario` into a timed :class:`Script`: same scenario, same script.

Steps: make the answer text (literal, Faker from a seed, or JSON), cut it into tokens, give each
token a due time from the timing (time to first token, per-token delay, seeded jitter, bursts),
append tool calls, usage and finish, then let each fault edit the plan at its token position.
"""

from __future__ import annotations

import functools
import json
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..scenario.schema import FakerText, Scenario, Timing
from .events import (
    Event,
    Finish,
    HttpError,
    Script,
    TextDelta,
    ThinkingDelta,
    Timed,
    ToolCall,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    Usage,
)

DELTAS = (TextDelta, ThinkingDelta, ToolCallDelta)
_WORDS = re.compile(r"\s*\S+|\s+")


def tokenize(text: str, mode: str) -> list[str]:
    """Cut ``text`` into tokens whose concatenation is exactly ``text``."""
    if not text:
        return []
    if mode == "chars":
        return list(text)
    if mode == "approx4":
        return [text[i:i + 4] for i in range(0, len(text), 4)]
    tokens = _WORDS.findall(text)
    if len(tokens) > 1 and tokens[-1].isspace():
        tail = tokens.pop()
        tokens[-1] += tail
    return tokens


@functools.lru_cache(maxsize=256)
def faker_text(spec: FakerText) -> str:
    from faker import Faker

    fake = Faker(spec.locale)
    fake.seed_instance(spec.seed)
    if spec.paragraphs:
        return "\n\n".join(fake.paragraphs(nb=spec.paragraphs))
    if spec.words:
        return " ".join(fake.words(nb=spec.words))
    return " ".join(fake.sentences(nb=spec.sentences or 3))


def answer_text(scenario: Scenario) -> str:
    r = scenario.response
    if r.text is not None:
        return r.text
    if r.faker is not None:
        return faker_text(r.faker)
    if r.json is not None:
        return json.dumps(r.json, ensure_ascii=False)
    return ""


def _delays(timing: Timing, count: int) -> list[float]:
    """Due time in seconds of each of ``count`` tokens."""
    rng = random.Random(timing.seed)
    times: list[float] = []
    t = timing.ttft_ms
    for i in range(count):
        if i:
            gap = timing.token_ms
            if timing.burst and i % timing.burst.size == 0:
                gap = timing.burst.pause_ms
            if timing.jitter_ms:
                gap = max(0.0, gap + rng.uniform(-timing.jitter_ms, timing.jitter_ms))
            t += gap
        times.append(t / 1000.0)
    return times


@dataclass
class Plan:
    """A script under construction; faults edit it through these few methods."""

    scenario: Scenario
    events: list[Timed]
    terminate: bool = True
    http_error: HttpError | None = None
    notes: list[str] = field(default_factory=list)
    text: str | None = None  # the answer text, when a fault cuts it short (else the scenario's)

    @property
    def token_count(self) -> int:
        return sum(isinstance(t.event, DELTAS) for t in self.events)

    def index_after_tokens(self, n: int) -> int:
        """Index in ``events`` right after the ``n``-th token (0: before the first one)."""
        seen = 0
        for i, t in enumerate(self.events):
            if isinstance(t.event, DELTAS):
                if seen == n:
                    # keep a tool call's start together with its first fragment
                    while i > 0 and isinstance(self.events[i - 1].event, ToolCallStart):
                        i -= 1
                    return i
                seen += 1
        # after the last token: before usage/finish
        i = len(self.events)
        while i > 0 and isinstance(self.events[i - 1].event, (Usage, Finish, ToolCallEnd)):
            i -= 1
        return i

    def time_at(self, index: int) -> float:
        """When the event at ``index`` is due (or the last event's time, past the end)."""
        if index < len(self.events):
            return self.events[index].at
        return self.events[-1].at if self.events else 0.0

    def time_before(self, index: int) -> float:
        return self.events[index - 1].at if index > 0 else 0.0

    def insert(self, index: int, event: Event, at: float) -> None:
        self.events.insert(index, Timed(at, event))

    def truncate(self, index: int) -> None:
        del self.events[index:]

    def shift(self, index: int, seconds: float) -> None:
        self.events[index:] = [Timed(t.at + seconds, t.event) for t in self.events[index:]]


def plan(scenario: Scenario) -> Plan:
    """The unfaulted plan: tokens with due times, tool calls, usage and finish."""
    if scenario.recording is not None:  # a recorded answer, decoded (sselab.record.decode)
        from ..record.decode import recorded_plan

        return recorded_plan(scenario, strict=scenario.response.recording is not None)
    r = scenario.response
    rng = random.Random(f"{scenario.name}:{scenario.timing.seed}")
    pieces: list[Event] = [ThinkingDelta(t) for t in tokenize(r.thinking or "", scenario.tokenize)]
    pieces += [TextDelta(t) for t in tokenize(answer_text(scenario), scenario.tokenize)]
    calls: list[list[Event]] = []
    for i, call in enumerate(r.tool_calls):
        args = call.arguments if isinstance(call.arguments, str) else json.dumps(
            call.arguments, ensure_ascii=False)
        call_id = call.id or "call_" + "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789",
                                                           k=24))
        frags = tokenize(args, "approx4") or [""]
        calls.append([ToolCallStart(i, call_id, call.name),
                      *(ToolCallDelta(i, f) for f in frags), ToolCallEnd(i)])
    n_deltas = len(pieces) + sum(len(c) - 2 for c in calls)
    times = iter(_delays(scenario.timing, n_deltas))
    events: list[Timed] = []
    last = scenario.timing.ttft_ms / 1000.0
    for ev in pieces:
        last = next(times)
        events.append(Timed(last, ev))
    for c in calls:
        for ev in c:
            if isinstance(ev, ToolCallDelta):
                last = next(times)
            events.append(Timed(last, ev))
    # a tool call's start is due with its first fragment
    for i in range(len(events) - 1):
        if isinstance(events[i].event, ToolCallStart):
            events[i] = Timed(events[i + 1].at, events[i].event)
    finish = r.finish_reason or ("tool_calls" if r.tool_calls else "stop")
    out = n_deltas
    events.append(Timed(last, Usage(scenario.usage.input_tokens, out)))
    events.append(Timed(last, Finish(finish)))
    return Plan(scenario, events)


def compile_scenario(scenario: Scenario) -> Script:
    """Scenario → timed Script, faults applied. Deterministic."""
    p = plan(scenario)
    for fault in ordered_faults(scenario.faults, p):
        fault.apply(p)
    if scenario.recording is not None:
        from ..record.decode import recorded_script

        return recorded_script(scenario, p)
    r = scenario.response
    text = answer_text(scenario) if p.text is None else p.text
    calls = []
    for t in p.events:  # take ids from the plan so the stream and the script agree
        if isinstance(t.event, ToolCallStart):
            spec = r.tool_calls[t.event.index]
            args = spec.arguments if isinstance(spec.arguments, str) else json.dumps(
                spec.arguments, ensure_ascii=False)
            calls.append(ToolCall(t.event.call_id, spec.name, args))
    finish = next((t.event.reason for t in p.events if isinstance(t.event, Finish)),
                  r.finish_reason or ("tool_calls" if r.tool_calls else "stop"))
    return Script(
        scenario=scenario.name,
        events=p.events,
        text=text,
        thinking=r.thinking or "",
        tool_calls=calls,
        finish_reason=finish,
        input_tokens=scenario.usage.input_tokens,
        output_tokens=p.token_count,
        terminate=p.terminate,
        http_error=p.http_error,
        seed=scenario.timing.seed,
        event_ids=scenario.resume.event_ids,
        retry_ms=scenario.resume.retry_ms,
    )


def ordered_faults(faults: Iterable[object], p: Plan) -> list:
    """Faults in the order they take effect (by token position; file order on ties)."""
    from ..shaping.base import position_of

    indexed = list(enumerate(faults))
    indexed.sort(key=lambda pair: (position_of(pair[1], p), pair[0]))
    return [f for _, f in indexed]
