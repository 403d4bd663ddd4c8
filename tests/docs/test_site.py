"""The guide builds with ``mkdocs build --strict`` (a broken link fails it), its generated
reference pages follow the registries, and its home page opens in Chromium."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from sselab._docgen import expand, faults_table, scenario_reference
from sselab.shaping import faults

from .examples import ROOT

pytest.importorskip("mkdocs")
pytest.importorskip("material")


def build(root: Path, site: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f",
                           str(root / "mkdocs.yml"), "-d", str(site)],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    proc = build(ROOT, out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def test_generated_pages_follow_the_registries(site: Path) -> None:
    table = faults_table()
    for name, cls in faults().items():
        assert f"`{name}`" in table and cls.summary in table
    assert "timing.burst.pause_ms" in scenario_reference()
    html = (site / "faults" / "index.html").read_text(encoding="utf-8")
    assert all(f"<code>{name}</code>" in html for name in faults())
    assert "<!-- sselab:" not in expand((ROOT / "docs" / "faults.md").read_text())


def test_a_broken_link_fails_the_build(tmp_path: Path) -> None:
    copy = tmp_path / "src"
    copy.mkdir()
    shutil.copy(ROOT / "mkdocs.yml", copy)
    shutil.copytree(ROOT / "docs", copy / "docs")
    with open(copy / "docs" / "faults.md", "a", encoding="utf-8") as f:
        f.write("\nSee [the missing page](no-such-page.md).\n")
    proc = build(copy, tmp_path / "site")
    assert proc.returncode != 0
    assert "no-such-page.md" in proc.stdout + proc.stderr


def test_home_page_opens_in_chromium(site: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    from e2e.conftest import launch_options  # Playwright's browser, or Debian's chromium
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    shots = ROOT / "artifacts" / "docs"
    shots.mkdir(parents=True, exist_ok=True)
    try:
        with sync_api.sync_playwright() as p:
            options = launch_options(p)
            if isinstance(options, str):
                pytest.skip(options)
            browser = p.chromium.launch(**options)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(f"http://127.0.0.1:{server.server_port}/")
                assert page.title().startswith("sselab")
                heading = page.locator("article h1").first
                assert heading.is_visible() and heading.inner_text().startswith("sselab")
                assert page.get_by_role("link", name="Getting started").first.is_visible()
                page.screenshot(path=str(shots / "home.png"))
            finally:
                browser.close()
    finally:
        server.shutdown()
        server.server_close()
    assert (shots / "home.png").stat().st_size > 10_000
