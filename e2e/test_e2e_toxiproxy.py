"""A Toxiproxy between the browser and the app: a slow, sliced or reset network."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page

from sselab import SimulatorThread
from sselab_reference_app import AppThread

from .helpers import UNICODE_SPLIT, ChatPage, expected_text, port_closed, rendering_problems

toxiproxy_testing = pytest.importorskip("sselab.toxiproxy.testing")


@pytest.fixture
def proxy(app: AppThread) -> Iterator[Any]:
    """A Toxiproxy proxy in front of the app (the page is loaded through it)."""
    with toxiproxy_testing.toxiproxy_client() as client:
        proxy = client.create(upstream=f"127.0.0.1:{app.port}", name="sselab_reference_app",
                              listen="127.0.0.1:0")
        yield proxy
    ours = client.backend != "external"  # a TOXIPROXY_URL server is someone else's to stop
    for address in (proxy.listen, *([client.api_url] if ours else [])):
        port = int(address.rsplit(":", 1)[1])
        assert port_closed(port), f"Toxiproxy's port {port} is still open"


def through(proxy: Any, page: Page) -> ChatPage:
    return ChatPage(page, "http://" + proxy.listen)


@pytest.mark.parametrize("model", ["long-answer", "e2e-unicode-split"])
def test_latency_and_slicing_keep_rendering_exact_and_progressive(
        sim: SimulatorThread, proxy: Any, page: Page, model: str) -> None:
    sim.add_scenario(UNICODE_SPLIT)
    proxy.add_toxic(name="latency", type="latency", stream="downstream",
                    attributes={"latency": 150, "jitter": 50})
    # pieces of 2-8 bytes: cuts inside UTF-8 characters, `data:` lines and chunk headers
    proxy.add_toxic(name="slicer", type="slicer", stream="downstream",
                    attributes={"average_size": 5, "size_variation": 3, "delay": 300})
    chat = through(proxy, page).open(model=model)
    chat.ask()
    chat.wait_state("completed", timeout=30)
    assert rendering_problems(chat, sim.scenarios[model]) == []


def test_reset_mid_stream_shows_connection_error_and_keeps_partial_text(
        sim: SimulatorThread, proxy: Any, page: Page) -> None:
    chat = through(proxy, page).open(model="long-answer")
    chat.ask()
    chat.wait_text_length(40)
    proxy.add_toxic(name="reset", type="reset_peer", stream="downstream",
                    attributes={"timeout": 0})
    chat.wait_state("failed")
    partial = chat.text()
    assert len(partial) >= 40 and expected_text(sim.scenarios["long-answer"]).startswith(partial)
    assert "connection" in chat.note().lower()
    assert chat.page.is_visible("#regenerate")
    # the app saw its client go, so the provider call was aborted too
    record = sim.wait_for(lambda r: r.done, timeout=5)
    assert record.outcome == "client_disconnected"
    chat.screenshot("after-connection-reset")
