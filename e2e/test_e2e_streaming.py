"""Tokens reach the page as they come, exactly, and the page behaves while they do."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page

from simulator import SimulatorThread
from simulator.scenario.schema import Scenario

from .helpers import ChatPage, expected_text, token_times

# Multi-byte text, one character a token, written to the app in random 1-16 byte pieces (so
# reads end inside UTF-8 characters, inside JSON strings and inside `data:`), over about 4 s.
UNICODE_SPLIT = """
name: e2e-unicode-split
description: Multi-byte text one character a token, split into random 1-16 byte writes.
response:
  text: "Grüße aus Köln — 日本語のテキスト、絵文字 🚀✨ und Ελληνικά!
    Crème brûlée, 寿司 🍣, naïve façade. Ещё: ok."
tokenize: chars
timing: {ttft_ms: 100, token_ms: 45}
faults:
  - {type: split, mode: random, min_size: 1, max_size: 16, seed: 7, pause_ms: 1}
"""

CODE_BLOCK = """
name: e2e-code-block
description: An answer with a fenced code block, a word a token.
response:
  text: "Here is the loop:\\n```python\\nfor i in range(3):\\n    print(i)\\n```\\nThat prints
    three lines."
tokenize: words
timing: {ttft_ms: 100, token_ms: 120}
"""


def rendering_problems(chat: ChatPage, scenario: Scenario) -> list[str]:
    """What is wrong with how the last answer reached the page (empty: nothing)."""
    tokens = token_times(scenario)
    duration = tokens[-1][0] - tokens[0][0]
    problems = []
    if chat.text() != expected_text(scenario):
        problems.append(f"final text differs: {chat.text()!r}")
    steps = [(t, n) for t, n in chat.steps() if n > 0]
    lengths = [n for _, n in steps]
    if lengths != sorted(lengths):
        problems.append("the visible answer shrank while streaming")
    if len(set(lengths)) < 20:
        problems.append(f"only {len(set(lengths))} distinct rendering steps")
    spread = steps[-1][0] - steps[0][0] if steps else 0.0
    if spread < 0.6 * duration:
        problems.append(f"text appeared over {spread:.2f} s of a {duration:.2f} s stream")
    return problems


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
