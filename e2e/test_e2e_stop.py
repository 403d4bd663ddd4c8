"""Stop in the browser aborts the provider call, at once, also while the provider is stalled."""

from __future__ import annotations

import time

import pytest

from sselab import SimulatorThread

from .helpers import ChatPage, expected_text

ABORT_BUDGET = 0.5  # seconds from the click to the provider seeing the disconnect


@pytest.mark.parametrize("model", ["long-answer", "stall-forever"])
def test_stop_aborts_the_upstream_request(sim: SimulatorThread, chat: ChatPage,
                                          model: str) -> None:
    full = expected_text(sim.scenarios[model])
    chat.open(model=model)
    chat.ask()
    if model == "stall-forever":  # all 5 tokens shown, and the provider is now silent
        chat.wait_text_length(len(full))
        time.sleep(0.3)
    else:
        chat.wait_text_length(60)
        chat.screenshot("mid-stream")
    upstream = sim.last
    assert upstream is not None and upstream.outcome == "in_progress"

    clicked = time.time()
    chat.page.click("#stop")
    record = sim.wait_for(lambda r: r.id == upstream.id and r.done, timeout=5)
    assert record.outcome == "client_disconnected"
    assert record.client_disconnected_at is not None
    latency = record.client_disconnected_at - clicked
    print(f"{model}: click -> upstream disconnect {latency * 1000:.0f} ms")
    assert latency < ABORT_BUDGET, f"the provider saw the disconnect {latency * 1000:.0f} ms late"

    chat.wait_state("stopped")
    partial = chat.text()
    assert partial and full.startswith(partial)
    assert "Stopped" in chat.note()
    assert chat.page.is_visible("#regenerate") and chat.page.is_hidden("#stop")
    time.sleep(0.3)
    assert chat.text() == partial, "the partial answer changed after Stop"
    stored = chat.wait_stored(chat.answer_id() or "", "stopped")
    assert stored["state"] == "stopped"
    # the app may have received a token that was still on its way to the page
    assert stored["text"].startswith(partial) and full.startswith(stored["text"])
    if model == "long-answer":
        chat.screenshot("after-stop")


def test_regenerate_after_stop(sim: SimulatorThread, chat: ChatPage) -> None:
    chat.open(model="long-answer")
    chat.ask()
    chat.wait_text_length(20)
    chat.page.click("#stop")
    chat.wait_state("stopped")
    chat.page.click("#regenerate")
    chat.wait_state("completed", timeout=20)
    assert chat.answers.count() == 1
    assert chat.text() == expected_text(sim.scenarios["long-answer"])
    assert chat.page.is_hidden("#regenerate")
    assert [r.outcome for r in sim.requests] == ["client_disconnected", "completed"]
