"""The one interface every fault implements, and the registry of faults by ``type`` name.

A fault is a small dataclass whose fields *are* its scenario attributes (validated strictly by
``sselab.scenario.validate``), registered by name through ``class X(Fault, type="name")``.
It acts at one or both of two stages:

- ``apply(plan)``: edit the timed script (insert an error event, a stall, a close...). Faults
  placed at a token position subclass :class:`Positioned` (``at_token`` or ``at_ms``).
- ``shape(items)``: rewrite the wire items after the encoder (split bytes, change line endings).

Adding a fault is one new module in this folder; ``sselab.shaping`` imports them all.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from ..encoders.base import Item
    from ..scenario.validate import Where
    from ..script.build import Plan

_FAULTS: dict[str, type[Fault]] = {}


@dataclass(frozen=True)
class Fault:
    type_name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    terminal: ClassVar[bool] = False  # ends the stream: nothing may be placed after it
    shape_order: ClassVar[int] = 0  # order among shape() stages (byte splitting goes last)

    def __init_subclass__(cls, type: str | None = None, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if type:
            if type in _FAULTS:
                raise ValueError(f"fault type {type!r} is registered twice")
            cls.type_name = type
            _FAULTS[type] = cls

    def ends_stream(self) -> bool:
        return self.terminal

    def check(self, where: Where, path: str, token_count: int) -> None:
        """Raise ``where.error(path + '.field', ...)`` for an impossible value."""

    def apply(self, plan: Plan) -> None:
        """Edit the timed script (default: nothing)."""

    def shape(self, items: Iterator[Item]) -> Iterator[Item]:
        """Rewrite wire items after encoding (default: unchanged)."""
        return items


@dataclass(frozen=True)
class Positioned(Fault):
    """A fault placed after ``at_token`` tokens, or at the first token due at/after ``at_ms``."""

    at_token: int | None = None
    at_ms: float | None = None

    def check(self, where: Where, path: str, token_count: int) -> None:
        if (self.at_token is None) == (self.at_ms is None):
            raise where.error(path, "give exactly one of at_token or at_ms")
        if self.at_token is not None and not 0 <= self.at_token <= token_count:
            raise where.error(f"{path}.at_token",
                              f"must be between 0 and {token_count} (the scenario has "
                              f"{token_count} tokens); got {self.at_token}")
        if self.at_ms is not None and self.at_ms < 0:
            raise where.error(f"{path}.at_ms", f"must be 0 or more; got {self.at_ms}")

    def token_position(self, plan: Plan) -> int:
        if self.at_token is not None:
            return self.at_token
        from ..script.build import DELTAS

        at = (self.at_ms or 0.0) / 1000.0
        return sum(1 for t in plan.events if isinstance(t.event, DELTAS) and t.at < at)


def position_of(fault: object, plan: Plan) -> float:
    if isinstance(fault, Positioned):
        return fault.token_position(plan)
    return -1  # whole-stream faults first


def fault_types() -> dict[str, type[Fault]]:
    return dict(_FAULTS)


def non_negative(where: Where, path: str, **values: float | None) -> None:
    for name, value in values.items():
        if value is not None and value < 0:
            raise where.error(f"{path}.{name}", f"must be 0 or more; got {value}")
