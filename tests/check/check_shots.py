"""Screenshots of HTML reports in Debian's Chromium (headless, via playwright)."""

from __future__ import annotations

from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "check"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def screenshot(html_path: Path, png_path: Path, width: int = 1000,
               sections: tuple[str, ...] = ()) -> None:
    """Open a report in Debian's Chromium (headless, via playwright) and save a full-page PNG,
    the first screen (``*-top.png``) and one PNG per named check section."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(html_path.resolve().as_uri())
            assert page.locator("svg.timeline").count() >= 1
            page.screenshot(path=str(png_path), full_page=True)
            page.screenshot(path=str(png_path.with_name(png_path.stem + "-top.png")))
            for section in sections:
                page.locator(f"#check-{section}").screenshot(
                    path=str(png_path.with_name(f"{png_path.stem}-{section}.png")))
        finally:
            browser.close()
