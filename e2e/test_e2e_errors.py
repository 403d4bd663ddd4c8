"""Failures keep what already arrived, say what went wrong, and can be retried."""

from __future__ import annotations

from sselab import SimulatorThread

from .conftest import IDLE_TIMEOUT
from .helpers import ChatPage, expected_text

TIMEOUT_MARGIN = 1.5  # seconds allowed past the idle timeout on a busy machine


def test_mid_stream_error_keeps_tokens_and_regenerate_works(sim: SimulatorThread,
                                                            chat: ChatPage) -> None:
    sim.set_default_scenario("mid-stream-error")  # the page names no model: the app's default
    chat.open()
    chat.ask()
    chat.wait_state("failed")
    assert chat.text() == expected_text(sim.scenarios["mid-stream-error"])
    error = chat.answer.locator("[data-testid=answer-error]")
    assert error.is_visible() and "Overloaded" in (error.text_content() or "")
    assert "Overloaded" in (chat.page.text_content("#status") or "")
    assert chat.announcements()[-1].startswith("Error: The model provider failed mid-answer")
    chat.screenshot("after-error")
    stored = chat.wait_stored(chat.answer_id() or "", "failed")
    assert stored["text"] == chat.text() and stored["error"]["kind"] == "upstream_error"

    sim.set_default_scenario("default")
    chat.page.click("#regenerate")
    chat.wait_state("completed")
    assert chat.answers.count() == 1
    assert chat.text() == expected_text(sim.scenarios["default"])
    assert chat.page.is_hidden("#regenerate")


def test_stalled_upstream_times_out(sim: SimulatorThread, chat: ChatPage) -> None:
    chat.open(model="stall-forever")
    chat.ask()
    chat.wait_state("failed", timeout=IDLE_TIMEOUT + 10)
    assert chat.text() == expected_text(sim.scenarios["stall-forever"])
    last_token = chat.steps()[-1][0]
    failed_at = next(t for t, s in chat.states() if s == "failed")
    waited = failed_at - last_token
    print(f"last token -> timeout error on the page: {waited:.2f} s (idle {IDLE_TIMEOUT} s)")
    assert IDLE_TIMEOUT * 0.5 <= waited <= IDLE_TIMEOUT + TIMEOUT_MARGIN, waited
    assert "sent nothing" in chat.note()
    record = sim.wait_for(lambda r: r.scenario == "stall-forever" and r.done, timeout=2)
    assert record.outcome == "client_disconnected"  # the app closed the stalled request


def test_upstream_connection_drop_shows_error(sim: SimulatorThread, chat: ChatPage) -> None:
    chat.open(model="reset-mid-stream")
    chat.ask()
    chat.wait_state("failed")
    assert chat.text() == expected_text(sim.scenarios["reset-mid-stream"])
    assert "broke" in chat.note()


def test_upstream_http_error_shows_status(sim: SimulatorThread, chat: ChatPage) -> None:
    chat.open(model="http-429")
    chat.ask()
    chat.wait_state("failed")
    assert chat.text() == ""
    assert "HTTP 429" in chat.note()
    assert chat.page.is_visible("#regenerate")
