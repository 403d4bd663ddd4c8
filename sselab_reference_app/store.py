"""What was said: every answer with its text and final state, kept in memory.

An answer is ``streaming`` until it ends, then exactly one of ``completed``, ``stopped`` (the
browser went away: Stop, a closed tab, a dropped connection) or ``failed`` (the upstream failed
or stalled). The text is whatever arrived, so a stopped or failed answer keeps its partial text.
A real app would persist this; the in-memory store keeps the example small.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

STATES = ("streaming", "completed", "stopped", "failed")


@dataclass
class Answer:
    id: str
    model: str
    messages: list[dict[str, str]]
    state: str = "streaming"
    finish_reason: str | None = None
    error: dict[str, Any] | None = None
    created_at: float = field(default_factory=time.time)
    ended_at: float | None = None
    tokens: int = 0
    chars: int = 0
    _parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self._parts)

    @property
    def done(self) -> bool:
        return self.state != "streaming"

    def append(self, text: str) -> None:
        if not self.done:
            self._parts.append(text)
            self.tokens += 1
            self.chars += len(text)

    def part(self, i: int) -> str:
        """The ``i``-th token's text (from 0)."""
        return self._parts[i]

    def finish(self, state: str, *, finish_reason: str | None = None,
               error: dict[str, Any] | None = None) -> None:
        """Record the final state; the first call wins (later ones are ignored)."""
        if state not in STATES[1:]:
            raise ValueError(f"state must be one of {', '.join(STATES[1:])}, not {state!r}")
        if not self.done:
            self.state, self.finish_reason, self.error = state, finish_reason, error
            self.ended_at = time.time()

    def to_json(self, *, messages: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "model": self.model, "state": self.state, "text": self.text,
            "tokens": self.tokens, "finish_reason": self.finish_reason, "error": self.error,
            "created_at": self.created_at, "ended_at": self.ended_at,
        }
        if messages:
            out["messages"] = self.messages
        return out


class AnswerStore:
    """The most recent ``limit`` answers, by id."""

    def __init__(self, limit: int = 1000) -> None:
        self.limit = limit
        self._answers: OrderedDict[str, Answer] = OrderedDict()
        self._seq = itertools.count(1)

    def new(self, model: str, messages: list[dict[str, str]]) -> Answer:
        answer = Answer(f"ans_{next(self._seq):05d}_{uuid.uuid4().hex[:8]}", model, messages)
        self._answers[answer.id] = answer
        while len(self._answers) > self.limit:
            self._answers.popitem(last=False)
        return answer

    def get(self, answer_id: str) -> Answer | None:
        return self._answers.get(answer_id)

    def all(self) -> list[Answer]:
        return list(self._answers.values())

    def __len__(self) -> int:
        return len(self._answers)
