"""Dropped connections in Chromium: the reference page reconnects and ends with the exact text
(a Toxiproxy reset between the browser and the app), the app resumes its provider's stream
unseen (a resumable ``drop`` in Responses background mode), Stop during a reconnect still
stops the provider call, and the browser's own EventSource resumes ``GET /sse`` with
``Last-Event-ID``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Page

from sselab import SimulatorThread, compile_scenario
from sselab_reference_app import AppThread

from .helpers import ChatPage, expected_text, port_closed

toxiproxy_testing = pytest.importorskip("sselab.toxiproxy.testing")

UPSTREAM_DROP = """
name: e2e-upstream-drop
response: {faker: {seed: 71, sentences: 8}}
timing: {ttft_ms: 100, token_ms: 30}
faults:
  - {type: drop, at_token: 15, resumable: true}
"""
SSE_DROP = """
name: e2e-sse-drop
response: {faker: {seed: 72, words: 40}}
timing: {ttft_ms: 50, token_ms: 25}
resume: {retry_ms: 200}
faults:
  - {type: drop, at_token: 12, resumable: true}
"""
RESET = {"name": "reset", "type": "reset_peer", "stream": "downstream",
         "attributes": {"timeout": 0}}


@pytest.fixture
def proxied(app_factory: Callable[..., AppThread]) -> Iterator[Callable[..., tuple[Any, str]]]:
    """``proxy, url = proxied(**create_app kwargs)``: an app behind a Toxiproxy proxy."""
    with toxiproxy_testing.toxiproxy_client() as client:
        made: list[Any] = []

        def make(**kwargs: Any) -> tuple[Any, str]:
            app = app_factory(**kwargs)
            proxy = client.create(upstream=f"127.0.0.1:{app.port}", listen="127.0.0.1:0",
                                  name=f"resume_app_{len(made)}")
            made.append(proxy)
            return proxy, "http://" + proxy.listen

        yield make
    for proxy in made:
        assert port_closed(int(proxy.listen.rsplit(":", 1)[1]))


def wait_reconnecting(chat: ChatPage, attempt: int = 1, timeout: float = 10.0) -> None:
    chat.page.wait_for_function(
        """n => { const s = document.getElementById("status").textContent;
                  const m = s.match(/attempt (\\d+) of/); return m && Number(m[1]) >= n; }""",
        arg=attempt, timeout=timeout * 1000)


def test_page_survives_a_reset_mid_stream_with_the_exact_text(
        sim: SimulatorThread, proxied: Callable[..., tuple[Any, str]], page: Page) -> None:
    proxy, url = proxied(resume_grace=10)
    chat = ChatPage(page, url).open(model="long-answer")
    chat.ask()
    chat.wait_text_length(40)
    proxy.add_toxic(**RESET)  # the browser's connection is reset, and so is every new one
    wait_reconnecting(chat)
    assert chat.state() == "reconnecting"
    chat.screenshot("resume-reconnecting")
    proxy.destroy_toxic("reset")  # the network is back: the next attempt resumes
    chat.wait_state("completed", timeout=20)
    full = expected_text(sim.scenarios["long-answer"])
    assert chat.text() == full  # every token once: none lost, none twice
    assert "reconnecting" in [s for _, s in chat.states()]
    assert {"Connection lost. Reconnecting.", "Reconnected."} <= set(chat.announcements())
    assert chat.wait_stored(chat.answer_id() or "", "completed")["text"] == full
    generations = [r for r in sim.requests if r.scenario == "long-answer"]
    assert len(generations) == 1 and generations[0].outcome == "completed"  # paid once


def test_page_never_notices_a_resumed_provider_stream(
        sim: SimulatorThread, app_factory: Callable[..., AppThread], page: Page) -> None:
    sim.add_scenario(UPSTREAM_DROP)
    app = app_factory(upstream_api="responses")
    chat = ChatPage(page, app.url).open(model="e2e-upstream-drop")
    chat.ask()
    chat.wait_state("completed", timeout=20)
    assert chat.text() == expected_text(sim.scenarios["e2e-upstream-drop"])
    assert "reconnecting" not in [s for _, s in chat.states()]
    created, resumed = sim.requests
    assert created.outcome == "fault_reset" and resumed.resumes == created.id


def test_stop_during_a_reconnect_stops_the_provider_call(
        sim: SimulatorThread, proxied: Callable[..., tuple[Any, str]], page: Page) -> None:
    proxy, url = proxied(resume_grace=30)  # only Stop can end it soon
    chat = ChatPage(page, url).open(model="long-answer")
    chat.ask()
    chat.wait_text_length(40)
    upstream = sim.last
    assert upstream is not None
    proxy.add_toxic(**RESET)
    wait_reconnecting(chat, attempt=3)  # two attempts failed; 1 s before the third
    proxy.destroy_toxic("reset")
    clicked = time.time()
    chat.page.click("#stop")
    chat.wait_state("stopped")
    record = sim.wait_for(lambda r: r.id == upstream.id and r.done, timeout=5)
    assert record.outcome == "client_disconnected"
    assert record.client_disconnected_at is not None
    assert record.client_disconnected_at - clicked < 1.0  # not the 30 s grace
    assert expected_text(sim.scenarios["long-answer"]).startswith(chat.text())


EVENT_SOURCE_JS = """
url => new Promise((resolve) => {
  const got = [];
  const es = new EventSource(url);
  es.addEventListener("token", (e) => got.push([e.lastEventId, JSON.parse(e.data).text]));
  es.addEventListener("done", () => { es.close(); resolve({got, errors}); });
  let errors = 0;
  es.addEventListener("error", (e) => {  // a dropped connection: EventSource reconnects
    errors += 1;
    if (e.data !== undefined || errors > 5) { es.close(); resolve({got, errors}); }
  });
})
"""


def test_event_source_resumes_get_sse_with_last_event_id(sim: SimulatorThread,
                                                         page: Page) -> None:
    sim.add_scenario(SSE_DROP)
    page.goto(sim.url("/_sselab/health"))  # the simulator's origin: EventSource same-origin
    result = page.evaluate(EVENT_SOURCE_JS, "/sse?scenario=e2e-sse-drop")
    ids = [i for i, _ in result["got"]]
    assert result["errors"] == 1  # the one drop
    assert "".join(t for _, t in result["got"]) == compile_scenario(
        sim.scenarios["e2e-sse-drop"]).text  # the rest exactly once
    assert len(ids) == len(set(ids)) and all(":" in i for i in ids)
    first, resumed = sim.requests[-2:]
    assert first.outcome == "fault_reset" and resumed.resumes == first.id
    assert resumed.replayed_events >= 1  # generated during the 200 ms retry delay
    print(json.dumps({"tokens": len(ids), "replayed": resumed.replayed_events}))
