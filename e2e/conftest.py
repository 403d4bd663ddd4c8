"""Fixtures for the browser suite: Chromium, the simulator, the reference app, a chat page.

Chromium: Playwright's own build when it is installed, else ``$SSELAB_CHROMIUM`` or Debian's
``/usr/bin/chromium`` (``playwright install`` cannot download everywhere); the suite is skipped
with the reason when there is none. Every simulator and app runs on a free port of 127.0.0.1 and
is stopped after its test, which checks that its port is closed; the suite checks at its end
that no browser process is left.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from sselab import SimulatorThread
from sselab_reference_app import AppThread

from .helpers import ChatPage, descendants, port_closed

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SYSTEM_CHROMIUM = "/usr/bin/chromium"
IDLE_TIMEOUT = 2.0  # the app's idle timeout in this suite (the app's default is 10 s)


def launch_options(pw: Playwright) -> dict[str, Any] | str:
    """Options for ``chromium.launch``, or the reason there is no browser to launch."""
    own = pw.chromium.executable_path
    if own and Path(own).exists():
        return {"args": CHROMIUM_ARGS}
    for candidate in (os.environ.get("SSELAB_CHROMIUM"), SYSTEM_CHROMIUM):
        if candidate and Path(candidate).exists():
            return {"executable_path": candidate, "args": CHROMIUM_ARGS}
    return (f"no Chromium: Playwright's browser is not installed ({own}), $SSELAB_CHROMIUM is "
            f"not set and {SYSTEM_CHROMIUM} does not exist")


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One Chromium for the suite, closed when the suite ends: sync Playwright keeps an event
    loop running in this thread, which async tests collected after this suite cannot share."""
    me = os.getpid()
    with sync_playwright() as pw:
        options = launch_options(pw)
        if isinstance(options, str):
            pytest.skip(options)
        browser = pw.chromium.launch(**options)
        try:
            yield browser
        finally:
            browser.close()
    deadline = time.monotonic() + 10
    while (left := descendants(me)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"processes left behind by the browser: {left}"


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread(max_stall=60) as s:
        port = int(s.base_url.rsplit(":", 1)[1])
        yield s
    assert port_closed(port), f"the simulator's port {port} is still open"


@pytest.fixture
def app_factory(sim: SimulatorThread) -> Iterator[Callable[..., AppThread]]:
    """Start a reference app against ``sim``; keyword arguments go to ``create_app``."""
    started: list[AppThread] = []

    def start(**kwargs: Any) -> AppThread:
        kwargs.setdefault("idle_timeout", IDLE_TIMEOUT)
        kwargs.setdefault("keepalive_interval", 0.5)
        app = AppThread(upstream_base_url=sim.base_url + "/v1", api_key="e2e", **kwargs)
        started.append(app.start())
        return app

    yield start
    for app in started:
        port = app.port
        app.stop()
        assert port_closed(port), f"the app's port {port} is still open"


@pytest.fixture
def app(app_factory: Callable[..., AppThread]) -> AppThread:
    return app_factory()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 900, "height": 700})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def chat(page: Page, app: AppThread) -> ChatPage:
    return ChatPage(page, app.url)
