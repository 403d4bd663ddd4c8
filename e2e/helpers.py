"""Helpers for the browser suite: a page object for the chat, observers, screenshots, checks.

The page object only reads what a user sees (the DOM), plus timestamps recorded in the page by a
MutationObserver installed before the page's own script runs.
"""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from playwright.sync_api import Locator, Page

from sselab import compile_scenario
from sselab.scenario.schema import Scenario
from sselab.script.events import ErrorEvent, Stall, TextDelta

ARTIFACTS = Path(os.environ.get("SSELAB_E2E_ARTIFACTS") or Path(__file__).parent / "artifacts")

# Records, in epoch milliseconds (comparable with time.time() * 1000):
#   __steps:  [t, length] whenever the last answer's visible text changes length
#   __states: [t, state]  whenever the last answer's data-state changes
#   __announcements: [t, text] whenever the polite live region changes
OBSERVER_JS = """
(() => {
  window.__steps = []; window.__states = []; window.__announcements = [];
  const now = () => performance.timeOrigin + performance.now();
  let lastLength = -1, lastState = null, lastAnnouncement = "";
  function check() {
    const answers = document.querySelectorAll('[data-testid="answer"]');
    const answer = answers[answers.length - 1];
    if (answer) {
      const n = answer.querySelector('[data-testid="answer-text"]').textContent.length;
      if (n !== lastLength) { lastLength = n; window.__steps.push([now(), n]); }
      if (answer.dataset.state !== lastState) {
        lastState = answer.dataset.state; window.__states.push([now(), lastState]);
      }
    }
    const live = document.getElementById("announcer");
    if (live && live.textContent !== lastAnnouncement) {
      lastAnnouncement = live.textContent;
      window.__announcements.push([now(), lastAnnouncement]);
    }
  }
  function install() {
    new MutationObserver(check).observe(document.body, {
      subtree: true, childList: true, characterData: true, attributes: true,
      attributeFilter: ["data-state"],
    });
  }
  if (document.body) install(); else document.addEventListener("DOMContentLoaded", install);
})();
"""


class ChatPage:
    def __init__(self, page: Page, base_url: str) -> None:
        self.page, self.base_url = page, base_url
        page.add_init_script(OBSERVER_JS)

    def open(self, model: str | None = None, scenario: str | None = None) -> ChatPage:
        query = {k: v for k, v in (("model", model), ("scenario", scenario)) if v}
        self.page.goto(self.base_url + "/" + (f"?{urlencode(query)}" if query else ""))
        self.page.wait_for_selector("#prompt")
        return self

    def ask(self, prompt: str = "Tell me something.") -> None:
        self.page.fill("#prompt", prompt)
        self.page.click("#send")
        self.page.wait_for_selector('[data-testid="answer"]')

    @property
    def answer(self) -> Locator:
        return self.page.locator('[data-testid="answer"]').last

    @property
    def answers(self) -> Locator:
        return self.page.locator('[data-testid="answer"]')

    def text(self) -> str:
        return self.answer.locator('[data-testid="answer-text"]').text_content() or ""

    def state(self) -> str | None:
        return self.answer.get_attribute("data-state")

    def wait_state(self, state: str, timeout: float = 15.0) -> None:
        self.page.wait_for_function(
            """s => { const a = document.querySelectorAll('[data-testid="answer"]');
                      return a.length && a[a.length - 1].dataset.state === s; }""",
            arg=state, timeout=timeout * 1000)

    def wait_text_length(self, at_least: int, timeout: float = 10.0) -> None:
        self.page.wait_for_function(
            """n => { const a = document.querySelectorAll('[data-testid="answer-text"]');
                      return a.length && a[a.length - 1].textContent.length >= n; }""",
            arg=at_least, timeout=timeout * 1000)

    def steps(self) -> list[tuple[float, int]]:
        return [(t / 1000.0, n) for t, n in self.page.evaluate("window.__steps")]

    def states(self) -> list[tuple[float, str]]:
        return [(t / 1000.0, s) for t, s in self.page.evaluate("window.__states")]

    def announcements(self) -> list[str]:
        return [text for _, text in self.page.evaluate("window.__announcements")]

    def note(self) -> str:
        return self.answer.locator(".note").text_content() or ""

    def answer_id(self) -> str | None:
        return self.answer.get_attribute("data-answer-id")

    def stored(self, answer_id: str) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.base_url}/api/answers/{answer_id}", timeout=5) as r:
            return json.load(r)

    def wait_stored(self, answer_id: str, state: str, timeout: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.stored(answer_id)
            if found["state"] == state or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path


# --- what a scenario should produce --------------------------------------------------------
def token_times(scenario: Scenario) -> list[tuple[float, str]]:
    """(seconds after the request, text) of every token until an error, a stall or the end."""
    out = []
    for timed in compile_scenario(scenario).events:
        if isinstance(timed.event, (ErrorEvent, Stall)):
            break
        if isinstance(timed.event, TextDelta):
            out.append((timed.at, timed.event.text))
    return out


def expected_text(scenario: Scenario) -> str:
    return "".join(text for _, text in token_times(scenario))


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


# --- leftovers -----------------------------------------------------------------------------
def port_closed(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) != 0


def descendants(pid: int) -> list[int]:
    """Live (not zombie) descendant processes of ``pid``, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        kids = [p for p, pp in parents.items() if pp == parent]
        found.extend(kids)
        frontier.extend(kids)
    return found
