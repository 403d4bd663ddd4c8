"""Tokens reach the page as they come, exactly, and the page behaves while they do."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page

from sselab import SimulatorThread

from .helpers import UNICODE_SPLIT, ChatPage, rendering_problems, token_times

CODE_BLOCK = """
name: e2e-code-block
description: An answer with a fenced code block, a word a token.
response:
  text: "Here is the loop:\\n```python\\nfor i in range(3):\\n    print(i)\\n```\\nThat prints
    three lines."
tokenize: words
timing: {ttft_ms: 100, token_ms: 120}
"""


@pytest.mark.parametrize("model", ["long-answer", "e2e-unicode-split"])
def test_progressive_rendering(sim: SimulatorThread, chat: ChatPage, model: str) -> None:
    sim.add_scenario(UNICODE_SPLIT)
    tokens = token_times(sim.scenarios[model])
    assert len(tokens) >= 60 and tokens[-1][0] - tokens[0][0] >= 3.0  # fit for the test
    chat.open(model=model)
    chat.ask()
    chat.wait_state("completed", timeout=30)
    assert rendering_problems(chat, sim.scenarios[model]) == []
    # screen readers: one polite announcement at the start and one at the end, not per token
    assert chat.announcements() == ["Generating an answer.", "Answer complete."]
    assert chat.page.locator("#messages[aria-live], [data-testid=answer][aria-live]").count() == 0


@pytest.mark.parametrize(("flag", "model", "expected"), [
    ("buffered", "long-answer", "distinct rendering steps"),
    ("naive_utf8", "e2e-unicode-split", "final text differs"),
])
def test_rendering_check_catches_broken_app(sim: SimulatorThread, app_factory: Any,
                                            page: Page, flag: str, model: str,
                                            expected: str) -> None:
    """The measurement above is not vacuous: an app with the bug fails it."""
    sim.add_scenario(UNICODE_SPLIT)
    chat = ChatPage(page, app_factory(flags=[flag]).url).open(model=model)
    chat.ask()
    chat.wait_state("completed", timeout=30)
    problems = rendering_problems(chat, sim.scenarios[model])
    assert any(expected in p for p in problems), problems


def test_open_code_block_renders_as_code(sim: SimulatorThread, chat: ChatPage) -> None:
    sim.add_scenario(CODE_BLOCK)
    chat.open(model="e2e-code-block")
    chat.ask()
    chat.page.wait_for_selector('[data-testid=answer] pre[data-open="true"] code')
    assert chat.state() == "streaming"
    chat.wait_state("completed")
    block = chat.answer.locator("pre")
    assert block.count() == 1
    assert block.get_attribute("data-open") == "false"
    assert block.get_attribute("data-lang") == "python"
    assert block.locator("code").text_content() == "for i in range(3):\n    print(i)\n"
    assert chat.text().startswith("Here is the loop:\n") and chat.text().endswith("three lines.")


def test_autoscroll_only_when_at_bottom(sim: SimulatorThread, chat: ChatPage) -> None:
    chat.page.set_viewport_size({"width": 420, "height": 360})
    chat.open(model="long-answer")
    chat.ask()
    box = chat.page.locator("#messages")
    overflowing = "el => el.scrollHeight > el.clientHeight + 40"
    chat.page.wait_for_function(f"() => ({overflowing})(document.getElementById('messages'))")
    at_bottom = "el => el.scrollHeight - el.scrollTop - el.clientHeight < 24"
    assert box.evaluate(at_bottom), "the page did not follow the answer while at the bottom"

    box.evaluate("el => { el.scrollTop = 0; }")  # the reader scrolls up to read
    before = len(chat.text())
    chat.wait_text_length(before + 40)
    assert box.evaluate("el => el.scrollTop") == 0, "the page scrolled while the reader read"

    box.evaluate("el => { el.scrollTop = el.scrollHeight; }")  # back to the bottom: follow again
    chat.wait_text_length(len(chat.text()) + 40)
    assert box.evaluate(at_bottom)
    chat.wait_state("completed")
