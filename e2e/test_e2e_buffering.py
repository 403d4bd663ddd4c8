"""Buffering middleboxes, seen from a real browser: the reference chat page behind sselab's
emulated proxies. A naive backend (no streaming headers) renders in a few large jumps behind
``nginx`` and ``gzip-middleware``; the reference app's headers make it progressive again.
``full-buffer`` holds every answer whatever the headers say: its fix is the platform's
streaming mode, not a header.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page

from sselab import SimulatorThread
from sselab.buffering import SyncBufferingProxy

from .helpers import ChatPage, token_times

MODEL = "long-answer"  # ~69 tokens over ~3.2 s, ~3 KB through the app: less than a 4 KiB buffer


def visible_steps(chat: ChatPage) -> list[tuple[float, int]]:
    return [(t, n) for t, n in chat.steps() if n > 0]


def run_through(profile: str, app_url: str, page: Page) -> tuple[ChatPage, float]:
    with SyncBufferingProxy(profile, app_url) as proxy:
        chat = ChatPage(page, proxy.url).open(model=MODEL)
        chat.ask()
        chat.wait_state("completed", timeout=30)
    steps = visible_steps(chat)
    return chat, steps[-1][0] - steps[0][0] if len(steps) > 1 else 0.0


@pytest.mark.parametrize(("profile", "naive", "progressive"), [
    ("nginx", True, False),
    ("nginx", False, True),             # fix: X-Accel-Buffering: no
    ("gzip-middleware", True, False),
    ("gzip-middleware", False, True),   # fix: Cache-Control: no-transform
    ("full-buffer", True, False),
    ("full-buffer", False, False),      # no header helps: use the platform's streaming mode
])
def test_page_through_a_buffering_proxy(sim: SimulatorThread, app_factory: Callable[..., Any],
                                        page: Page, profile: str, naive: bool,
                                        progressive: bool) -> None:
    app = app_factory(flags=["no_headers"] if naive else [])
    chat, spread = run_through(profile, app.url, page)
    steps = visible_steps(chat)
    tokens = token_times(sim.scenarios[MODEL])
    duration = tokens[-1][0] - tokens[0][0]
    full = "".join(t for _, t in tokens)
    assert chat.text() == full  # buffered or not, nothing is lost
    if progressive:
        assert len(steps) >= 20, f"{profile}: only {len(steps)} rendering steps"
        assert spread >= 0.6 * duration, f"{profile}: steps spread over {spread:.2f}s"
    else:
        assert len(steps) <= 3, f"{profile}: {len(steps)} steps, expected a few large jumps"
        assert spread < 0.3 * duration
    if profile == "nginx" and naive:
        chat.screenshot("buffered-behind-nginx")
