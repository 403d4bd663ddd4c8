"""The ``resume`` check: the reference app passes it, its ``no_resume`` variant fails it, an
endpoint whose events carry no ids skips it unless asked (and then fails it); its timeline
shows both client connections."""

from __future__ import annotations

import pytest

from sselab import Simulator
from sselab.check import Settings, Target, run_checks, to_html
from sselab_reference_app import AppServer


async def resume_check(sim: Simulator, url: str, *, only: bool = True):
    report = await run_checks(Target(url), sim, only=["resume"] if only else None,
                              skip=() if only else ("slow-consumer", "concurrency", "stall",
                                                    "upstream-errors"),
                              settings=Settings(stall_wait=3.0))
    assert report.preflight is None, report.preflight
    return report["resume"]


@pytest.mark.parametrize("upstream_api", ["chat", "responses"])
async def test_the_reference_app_resumes_exactly(upstream_api: str) -> None:
    async with Simulator() as sim, AppServer(upstream_base_url=sim.base_url + "/v1",
                                             upstream_api=upstream_api) as app:
        result = await resume_check(sim, app.url + "/api/chat")
    assert result.verdict == "pass", result.message
    m = result.measurements
    assert m["text_matches"] is True and m["upstream_calls"] == 1
    assert m["last_event_id"].endswith(":10") and m["reconnect_status"] == 200
    lanes = [lane.label for lane in result.timelines[0].lanes]
    assert lanes[-2:] == ["client", "client (resumed)"] and lanes[0].startswith("upstream")
    labels = [mk.label for mk in result.timelines[0].markers]
    assert "client left" in labels
    assert any(lb.startswith("reconnect (Last-Event-ID") for lb in labels)


async def test_the_variant_without_resume_fails() -> None:
    async with Simulator() as sim, AppServer(upstream_base_url=sim.base_url + "/v1",
                                             flags=["no_resume"]) as app:
        result = await resume_check(sim, app.url + "/api/chat")
    assert result.verdict == "fail"
    assert "started the answer again" in result.message
    assert "asked its provider 2 times" in result.message
    assert result.measurements["text_matches"] is False
    assert "resume" in to_html_of(result)


def to_html_of(result) -> str:
    from sselab.check.model import Report

    return to_html(Report("http://x", "http://y", results=[result]))


async def test_events_without_ids_skip_unless_asked(sim: Simulator, relay) -> None:
    url = await relay()
    skipped = await resume_check(sim, url, only=False)
    assert skipped.verdict == "skip" and "carry no id" in skipped.message
    asked = await resume_check(sim, url)
    assert asked.verdict == "fail" and "carry no id" in asked.message
    assert "started the answer again" in asked.message  # its reconnect is a new answer
