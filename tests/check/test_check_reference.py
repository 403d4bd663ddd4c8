"""Acceptance: against the reference app every check passes; each deliberately broken flag
fails exactly the checks it should and passes the others. Also renders the HTML reports of
a good and a broken run in Chromium (screenshots under artifacts/check/)."""

from __future__ import annotations

import asyncio

import pytest
from check_shots import screenshot

from sselab import Simulator
from sselab.check import Report, Settings, Target, run_checks, to_html
from sselab_reference_app import AppServer

SETTINGS = Settings(stall_wait=3.0)  # the app's idle timeout is 1 s here
EXPECTED_FAILURES = {
    None: set(),
    "no_abort": {"abort"},
    "buffered": {"progressive", "slow-consumer", "concurrency"},
    "swallow_errors": {"mid-stream-error", "upstream-errors"},
    "no_idle_timeout": {"stall"},
    "naive_utf8": {"split-chunks"},
    "unbounded_readahead": {"slow-consumer"},
    "no_headers": {"headers"},
    "no_resume": {"resume"},
}


async def battery(flags: tuple[str, ...]) -> Report:
    async with Simulator() as sim, AppServer(upstream_base_url=sim.base_url + "/v1",
                                             idle_timeout=1.0, flags=flags) as app:
        return await run_checks(Target(app.url + "/api/chat"), sim, settings=SETTINGS)


@pytest.fixture(scope="module")
def reports() -> dict:
    return {}


@pytest.mark.timeout(90)
@pytest.mark.parametrize("flag", list(EXPECTED_FAILURES), ids=lambda f: f or "correct")
async def test_variant_fails_exactly_its_checks(flag: str | None, reports: dict) -> None:
    report = await battery((flag,) if flag else ())
    reports[flag] = report
    assert report.preflight is None
    assert len(report.results) == 10
    assert set(report.failed) == EXPECTED_FAILURES[flag], report.summary()
    assert report.ok == (flag is None)


def test_swallowed_errors_also_make_the_stall_a_warning(reports: dict) -> None:
    report = reports.get("swallow_errors")
    if report is None:
        pytest.skip("runs after the variant matrix")
    assert report["stall"].verdict == "warn"
    assert "as if complete" in report["stall"].message


async def test_html_reports_render_in_chromium(artifacts, reports: dict) -> None:
    good = reports.get(None) or await battery(())
    bad = await battery(("buffered", "no_abort"))
    assert set(bad.failed) == {"progressive", "slow-consumer", "concurrency", "abort"}
    for name, report in (("reference-report", good), ("broken-report", bad)):
        html = artifacts / f"{name}.html"
        html.write_text(to_html(report), encoding="utf-8")
        png = artifacts / f"{name}.png"
        # sync playwright: off the event loop
        await asyncio.to_thread(screenshot, html, png, 1000, ("abort", "progressive"))
        assert png.stat().st_size > 20_000
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
