"""The lab in Chromium: ``/_sselab/ui`` lists what the openai SDK does as it happens and draws a
stall; the demo lab's controls change what streams (scenario, path, variant) and it measures
Stop; both are usable with labels and the keyboard, and announce politely."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from playwright.sync_api import FrameLocator, Page

from sselab import SimulatorThread
from sselab.lab.demo import DemoLabThread

from .helpers import ARTIFACTS, OBSERVER_JS, expected_text, port_closed

MSG = [{"role": "user", "content": "hi"}]


def until(page: Page, predicate: str, arg: object = None, timeout: float = 15.0) -> None:
    """Poll a JS function until it is truthy (``wait_for_function`` evaluates strings, which
    the lab pages' Content-Security-Policy forbids, as it should)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(predicate, arg):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {predicate}")
        time.sleep(0.05)


# --- /_sselab/ui -----------------------------------------------------------------------------
def rows(page: Page) -> dict[str, str]:
    """Scenario -> outcome of every listed request."""
    return dict(page.evaluate("""() => [...document.querySelectorAll(
        '[data-testid=request-row]')].map(r => [r.cells[1].firstChild.textContent,
                                                r.cells[2].textContent])"""))


def test_ui_lists_sdk_requests_live_and_draws_a_stall(sim: SimulatorThread, page: Page) -> None:
    page.goto(sim.base_url + "/_sselab/ui")
    page.wait_for_selector('[data-testid="connection"][data-state="live"]')
    client = openai.OpenAI(base_url=sim.base_url + "/v1", api_key="e2e", max_retries=0)
    for _ in client.chat.completions.create(model="default", messages=MSG, stream=True):
        pass
    with pytest.raises(openai.APIError, match="Overloaded"):
        for _ in client.chat.completions.create(model="mid-stream-error", messages=MSG,
                                                stream=True):
            pass
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="http-429", messages=MSG, stream=True)
    until(page, "() => document.querySelectorAll('[data-testid=request-row]').length === 3")
    until(page, "() => !document.querySelector('tr[data-outcome=in_progress]')")
    assert rows(page) == {"default": "completed", "mid-stream-error": "error event",
                          "http-429": "http error"}

    # a stall-30s request: listed within a second of starting, its stall drawn while it lasts
    ended: list[BaseException] = []
    started = time.monotonic()

    def call() -> None:
        try:  # the SDK gives up 4 s into the 30 s stall (its read timeout)
            for _ in client.chat.completions.create(model="stall-30s", messages=MSG,
                                                    stream=True, timeout=4.0):
                pass
        except openai.APITimeoutError as exc:
            ended.append(exc)

    reader = threading.Thread(target=call, daemon=True)
    reader.start()
    row = page.locator('tr[data-testid="request-row"][data-outcome="in_progress"]')
    row.wait_for(timeout=5000)
    shown_after = time.monotonic() - started
    assert shown_after < 1.0, f"listed {shown_after:.2f} s after the request started"
    time.sleep(1.5)  # into the stall (it starts after 10 tokens, 0.35 s in)
    row.locator("button").focus()
    page.keyboard.press("Enter")  # selected from the keyboard
    band = page.locator('[data-testid="timeline"] g.span.stall rect')
    band.wait_for()
    plot = page.locator('[data-testid="timeline"] svg').bounding_box()
    box = band.bounding_box()
    assert plot and box and box["width"] > 0.4 * plot["width"], (box, plot)
    assert "stall at_token=10 ms=30000" in (page.text_content('[data-testid="facts"]') or "")
    until(page, """() => document.querySelector('[data-testid=announcer]')
        .textContent.startsWith('Showing req_000004')""")

    reader.join(15)  # the client goes away during the stall
    assert ended and not reader.is_alive()
    page.wait_for_selector('[data-testid="timeline"] text:has-text("client went away")')
    assert page.locator('[data-testid="timeline"] g.span.stall').count() == 1
    assert rows(page)["stall-30s"] == "client disconnected"
    assert page.locator('[data-testid="bytes"] .piece').count() == 11  # role + 10 tokens
    page.screenshot(path=str(_artifact("lab-ui-stall")))

    # keyboard: Up and Down move between the requests
    first = page.locator("button.pick").first
    first.focus()
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.textContent") == "req_000003"

    # filters, then clear
    page.select_option('[data-testid="filter-outcome"]', "completed")
    until(page, "() => document.querySelectorAll('[data-testid=request-row]').length === 1")
    assert list(rows(page)) == ["default"]
    page.get_by_label("Outcome", exact=True).select_option("")
    page.get_by_label("Scenario", exact=True).select_option("stall-30s")
    until(page, "() => document.querySelectorAll('[data-testid=request-row]').length === 1")
    assert list(rows(page)) == ["stall-30s"]
    page.get_by_role("button", name="Clear").click()
    until(page, "() => document.querySelectorAll('[data-testid=request-row]').length === 0")
    assert sim.call_count == 0
    assert page.is_visible('[data-testid="empty"]')


# --- sselab demo -----------------------------------------------------------------------------
@pytest.fixture
def lab() -> Iterator[DemoLabThread]:
    with DemoLabThread() as running:
        port = running.lab.port
        yield running
    assert port_closed(port), f"the demo lab's port {port} is still open"


class DemoPage:
    def __init__(self, page: Page, lab: DemoLabThread) -> None:
        self.page, self.lab = page, lab
        page.add_init_script(OBSERVER_JS)  # runs in the chat's frame too

    def open(self, query: str = "") -> DemoPage:
        self.page.goto(self.lab.url + "/" + query)
        self.ready()
        return self

    def ready(self) -> None:
        self.page.wait_for_selector('body[data-ready="true"]')

    @property
    def chat(self) -> FrameLocator:
        return self.page.frame_locator('[data-testid="chat"]')

    def choose(self, scenario: str | None = None, path: str | None = None,
               variant: str | None = None) -> None:
        if scenario is not None:
            self.page.get_by_label("Scenario", exact=True).select_option(scenario)
            until(self.page, "s => document.getElementById('chat').src.endsWith('model=' + s)",
                  scenario)
            self.ready()
        if path is not None:
            self.page.get_by_label(path, exact=True).check()
        if variant is not None:
            self.page.get_by_label("App variant").select_option(variant)

    def ask(self, prompt: str = "Tell me something.") -> None:
        self.chat.locator("#prompt").fill(prompt)
        self.chat.locator("#send").click()

    def answers(self) -> int:
        return self.chat.locator('[data-testid="answer"]').count()

    def wait_answer(self, state: str, n: int = 1, timeout: float = 30.0) -> None:
        """Until ``n`` answers are in ``state``."""
        self.chat.locator(f'[data-testid="answer"][data-state="{state}"]').nth(n - 1).wait_for(
            timeout=timeout * 1000)

    def figure(self, testid: str) -> str:
        return self.page.text_content(f'[data-testid="{testid}"]') or ""

    def settled(self, timeout: float = 15.0) -> None:
        """Until the upstream has ended and the page has drawn the browser's last read."""
        until(self.page,
              """() => { const o = document.querySelector('[data-testid=upstream-outcome]');
                         return o && o.textContent !== '—' && o.textContent !== 'in progress'; }""",
              timeout=timeout)
        time.sleep(0.7)  # the last refresh after the stream's end

    def arrivals_with_text(self) -> int:
        m = re.search(r"\((\d+) with text\)", self.figure("arrivals"))
        return int(m.group(1)) if m else 0


def test_scenario_control_is_labelled_and_lists_every_scenario(lab: DemoLabThread,
                                                               page: Page) -> None:
    demo = DemoPage(page, lab).open()
    select = page.get_by_label("Scenario", exact=True)
    assert select.evaluate("e => e.tagName") == "SELECT"
    values = select.locator("option").evaluate_all("os => os.map(o => o.value)")
    scenarios = lab.lab.sim.scenarios
    assert values == sorted(scenarios) and len(values) >= 28
    texts = select.locator("option").all_text_contents()
    assert all(scenarios[v].description in t for v, t in zip(values, texts))
    assert select.input_value() == "demo"
    assert page.get_by_label("App variant").evaluate("e => e.tagName") == "SELECT"
    assert page.get_by_role("group", name="Path between the app and the browser").is_visible()
    # keyboard: the next scenario, and the chat reloads with it
    select.focus()
    page.keyboard.press("ArrowDown")
    following = values[values.index("demo") + 1]
    until(page, "s => document.getElementById('chat').src.endsWith('model=' + s)", following)
    demo.ready()
    assert demo.chat.locator('[data-testid="model"]').text_content() == following
    assert f"Scenario {following}" in demo.figure("announcer")


def test_an_unknown_scenario_shows_a_notice(lab: DemoLabThread, page: Page) -> None:
    DemoPage(page, lab).open("?scenario=mid-stream-eror")
    notice = page.get_by_role("alert")
    assert notice.is_visible()
    assert "Unknown scenario “mid-stream-eror”" in (notice.text_content() or "")
    assert page.get_by_label("Scenario", exact=True).input_value() == "demo"


def test_mid_stream_error_shows_the_error_after_the_partial_text(lab: DemoLabThread,
                                                                 page: Page) -> None:
    demo = DemoPage(page, lab).open()
    demo.choose(scenario="mid-stream-error")
    demo.ask()
    demo.wait_answer("failed")
    answer = demo.chat.locator('[data-testid="answer"]').last
    text = answer.locator('[data-testid="answer-text"]').text_content() or ""
    assert text and text == expected_text(lab.lab.sim.scenarios["mid-stream-error"])
    error = answer.locator('[data-testid="answer-error"]')
    assert error.is_visible() and "Overloaded" in (error.text_content() or "")
    after = answer.evaluate("""a => a.querySelector('[data-testid=answer-text]')
        .compareDocumentPosition(a.querySelector('[data-testid=answer-error]'))
        & Node.DOCUMENT_POSITION_FOLLOWING""")
    assert after, "the error is not shown after the partial text"
    demo.settled()
    assert demo.figure("upstream-outcome") == "error event"


def test_nginx_with_the_naive_app_turns_the_stream_into_lumps(lab: DemoLabThread,
                                                             page: Page) -> None:
    demo = DemoPage(page, lab).open()
    demo.choose(scenario="long-answer")
    tokens = len(re.findall(r"\S+\s*", expected_text(lab.lab.sim.scenarios["long-answer"])))
    demo.ask("direct")
    demo.wait_answer("completed")
    demo.settled()
    direct = demo.arrivals_with_text()
    assert direct >= 0.8 * tokens, (direct, tokens)
    page.screenshot(path=str(_artifact("lab-demo-direct")))

    demo.choose(path="nginx", variant="no_headers")
    demo.ask("through nginx")
    demo.wait_answer("completed", n=2)
    demo.settled()
    lumps = demo.arrivals_with_text()
    assert 1 <= lumps <= 3, lumps
    assert float(demo.figure("relay-ratio")) < 0.1
    page.screenshot(path=str(_artifact("lab-demo-nginx")))


def test_stop_shows_the_measured_upstream_close(lab: DemoLabThread, page: Page) -> None:
    demo = DemoPage(page, lab).open()
    demo.ask()
    demo.chat.locator('[data-testid="answer-text"]').filter(
        has_text=re.compile(r"\S+ \S+ \S+ \S+ \S+ \S+")).wait_for()
    demo.chat.locator("#stop").click()
    demo.wait_answer("stopped")
    stop = page.locator('[data-testid="stop"]')
    stop.filter(has_text="ms after Stop").wait_for(timeout=10000)
    m = re.fullmatch(r"upstream closed (\d+) ms after Stop", stop.text_content() or "")
    assert m and int(m.group(1)) < 1000, stop.text_content()
    until(page, """() => document.querySelector('[data-testid=announcer]')
        .textContent.includes('after Stop')""")
    assert page.locator('[data-testid="timeline"] text:has-text("Stop (")').count() == 1


def test_the_first_answer_streams_for_over_4_seconds(lab: DemoLabThread, page: Page) -> None:
    demo = DemoPage(page, lab).open()
    demo.ask()
    demo.wait_answer("completed", timeout=30)
    frame = next(f for f in page.frames if f.url.startswith(lab.url + "/chat/"))
    steps = [(t / 1000.0, n) for t, n in frame.evaluate("window.__steps") if n > 0]
    spread = steps[-1][0] - steps[0][0]
    assert spread >= 4.0, f"the answer appeared over {spread:.2f} s"
    assert len({n for _, n in steps}) >= 50  # progressively, not in a few lumps
    demo.settled()
    assert "Answer over" in demo.figure("announcer")
    page.screenshot(path=str(_artifact("lab-demo-first-answer")))


def _artifact(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{name}.png"
