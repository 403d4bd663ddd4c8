"""Take the lab's screenshots for the docs (docs/images/lab-*.png) in headless Chromium.

    python scripts/lab_screenshots.py [OUT_DIR]

- ``lab-demo-nginx.png``: the demo lab after one answer through nginx from the naive app (the
  upstream wrote word by word; the browser got one lump at the end);
- ``lab-demo-stop.png``: the demo lab after Stop, with the measured upstream close;
- ``lab-ui.png``: ``/_sselab/ui`` with the openai SDK's requests and a stall-30s timeline.

Chromium: Playwright's own, else ``$SSELAB_CHROMIUM`` or Debian's ``/usr/bin/chromium``.
Bounded: every wait has a timeout; the servers and the browser are stopped at the end.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import openai
from playwright.sync_api import Page, sync_playwright

from sselab import SimulatorThread
from sselab.lab.demo import DemoLabThread

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 800}
MSG = [{"role": "user", "content": "hi"}]


def launch(pw):  # type: ignore[no-untyped-def]
    own = pw.chromium.executable_path
    if own and Path(own).exists():
        return pw.chromium.launch(args=ARGS)
    path = os.environ.get("SSELAB_CHROMIUM") or "/usr/bin/chromium"
    return pw.chromium.launch(executable_path=path, args=ARGS)


def wait(page: Page, predicate: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not page.evaluate(predicate):
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {predicate}")
        time.sleep(0.05)


def demo_shots(page: Page, out: Path) -> None:
    with DemoLabThread() as lab:
        page.goto(lab.url + "/?scenario=demo&path=nginx&variant=no_headers")
        wait(page, "() => document.body.dataset.ready === 'true'")
        chat = page.frame_locator("#chat")
        chat.locator("#prompt").fill("Show me what nginx does to a stream.")
        chat.locator("#send").click()
        chat.locator('[data-testid="answer"][data-state="completed"]').wait_for(timeout=30000)
        wait(page, "() => document.getElementById('f-outcome').textContent === 'completed'")
        time.sleep(1.0)
        page.evaluate("() => window.scrollTo(0, 0)")
        page.screenshot(path=str(out / "lab-demo-nginx.png"))

        page.get_by_label("direct", exact=True).check()
        page.get_by_label("App variant").select_option("reference")
        chat.locator("#prompt").fill("Now directly, and I will press Stop.")
        chat.locator("#send").click()
        time.sleep(2.6)
        chat.locator("#stop").click()
        wait(page, "() => document.getElementById('f-stop').textContent.includes('after Stop')")
        time.sleep(0.8)
        page.evaluate("() => window.scrollTo(0, 0)")
        page.screenshot(path=str(out / "lab-demo-stop.png"))


def ui_shots(page: Page, out: Path) -> None:
    with SimulatorThread(max_stall=60) as sim:
        page.goto(sim.base_url + "/_sselab/ui")
        wait(page, "() => document.getElementById('connection').dataset.state === 'live'")
        client = openai.OpenAI(base_url=sim.base_url + "/v1", api_key="shots", max_retries=0)
        for model in ("default", "unicode", "mid-stream-error", "split-utf8", "http-429"):
            try:
                for _ in client.chat.completions.create(model=model, messages=MSG, stream=True):
                    pass
            except openai.APIError:
                pass

        def stall() -> None:
            try:
                for _ in client.chat.completions.create(model="stall-30s", messages=MSG,
                                                        stream=True, timeout=3.0):
                    pass
            except openai.APITimeoutError:
                pass

        reader = threading.Thread(target=stall, daemon=True)
        reader.start()
        reader.join(15)
        time.sleep(0.5)
        page.locator("button.pick").first.click()
        page.locator('[data-testid="timeline"] g.span.stall').wait_for(timeout=10000)
        time.sleep(0.8)
        page.screenshot(path=str(out / "lab-ui.png"))


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else ROOT / "docs" / "images"
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            demo_shots(page, out)
            page = browser.new_page(viewport=VIEWPORT)
            ui_shots(page, out)
        finally:
            browser.close()
    for name in ("lab-demo-nginx.png", "lab-demo-stop.png", "lab-ui.png"):
        print(out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
