"""The one interface every check implements, and the registry of checks by name.

A check is one module in this folder holding an ``async def run(ctx) -> CheckResult``
decorated with :func:`check`, which registers it under its name::

    @check("progressive", "Progressive delivery", order=20,
           summary="first byte soon after the upstream's first token; no lumps")
    async def run(ctx: CheckContext) -> CheckResult: ...

Adding a check is one new module; ``sselab.check.checks`` imports them all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..context import CheckContext
from ..model import CheckResult

RunFn = Callable[[CheckContext], Awaitable[CheckResult]]
_CHECKS: dict[str, Check] = {}


@dataclass(frozen=True)
class Check:
    name: str
    title: str
    order: int
    summary: str
    run: RunFn


def check(name: str, title: str, *, order: int, summary: str) -> Callable[[RunFn], RunFn]:
    def register(fn: RunFn) -> RunFn:
        if name in _CHECKS:
            raise ValueError(f"check {name!r} is registered twice")
        _CHECKS[name] = Check(name, title, order, summary, fn)
        return fn

    return register


def registered() -> dict[str, Check]:
    return dict(_CHECKS)
