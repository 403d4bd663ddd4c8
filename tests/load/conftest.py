"""Fixtures for ``sselab load``'s tests (helpers in load_helpers.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from load_helpers import SHORT, free_port

from sselab_reference_app import AppThread


@pytest.fixture
def scenarios(tmp_path: Path) -> Path:
    d = tmp_path / "scenarios"
    d.mkdir()
    (d / "load-short.yaml").write_text(SHORT, encoding="utf-8")
    return d


@pytest.fixture
def reference_app() -> Iterator[Callable[..., tuple[str, int]]]:
    """``endpoint, upstream_port = reference_app(flags=("buffered",))``: the reference app in
    a thread, its provider on a free port where ``sselab load`` will start the simulator."""
    with contextlib.ExitStack() as stack:
        def start(flags: tuple[str, ...] = ()) -> tuple[str, int]:
            port = free_port()
            app = stack.enter_context(AppThread(upstream_base_url=f"http://127.0.0.1:{port}/v1",
                                                idle_timeout=5.0, flags=list(flags),
                                                resume_grace=0.0))  # a drop is final here
            return app.url + "/api/chat", port

        yield start
