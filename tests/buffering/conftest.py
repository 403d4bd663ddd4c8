"""Fixtures for the buffering tests: a controllable SSE upstream (see buffering_upstream.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from buffering_upstream import Upstream, running_upstream


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    async with running_upstream() as up:
        yield up
