"""``sselab load`` end to end, each run in its own process (Locust patches the process it runs
in) against the reference app in this one: a normal relay, the ``buffered`` and ``no_abort``
broken flags, an unreachable endpoint, an app not pointed at the simulator, and the reports.
Runs are short (a few seconds, few users); figures are compared as ratios, never as
benchmarks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from load_helpers import free_port, sselab_load

App = Callable[..., tuple[str, int]]


def short(endpoint: str, port: int, scenarios: Path, *more: str) -> list[str]:
    return ["--endpoint", endpoint, "--upstream-port", str(port), "--scenarios", str(scenarios),
            "--scenario", "load-short", "--users", "8", "--spawn-rate", "8", "--run-time", "4s",
            "-q", *more]


def test_a_relay_and_its_buffered_twin(reference_app: App, scenarios: Path,
                                       tmp_path: Path) -> None:
    endpoint, port = reference_app()
    direct = sselab_load(*short(endpoint, port, scenarios, "--html", str(tmp_path / "d.html")),
                         report=tmp_path / "direct.json")
    assert direct.code == 0, direct.out + direct.err
    endpoint, port = reference_app(flags=("buffered",))
    lumpy = sselab_load(*short(endpoint, port, scenarios), report=tmp_path / "buffered.json")
    assert lumpy.code == 0, lumpy.out + lumpy.err

    d, b = direct.report["client"], lumpy.report["client"]  # type: ignore[index]
    for run in (direct, lumpy):
        assert "TTFT" in run.out and "inter-token gap" in run.out and "opened" in run.out
        c, up = run.report["client"], run.report["upstream"]  # type: ignore[index]
        assert c["outcomes"]["complete"] >= 8 and c["outcomes"]["error"] == 0
        # every stream the users finished was one upstream stream the endpoint opened
        assert up["opened"] >= c["outcomes"]["complete"] and up["completed"] >= 8
    # the buffer: the whole answer in one read, the first text only at the end
    assert b["tokens_per_arrival"]["overall"] > 3 * d["tokens_per_arrival"]["overall"]
    assert b["ttft_ms"]["p50"] > 3 * d["ttft_ms"]["p50"]
    assert b["gap_ms"]["p50"] * 3 < d["gap_ms"]["p50"]  # tokens arrive together: zero gaps
    assert "lumps:" in lumpy.out and "lumps:" not in direct.out
    assert direct.report["locust"]["stream"]["requests"] == d["outcomes"]["complete"]  # type: ignore[index]
    html = (tmp_path / "d.html").read_text()
    assert html.count("<svg") == 5


def test_drops_that_the_endpoint_passes_on_or_not(reference_app: App, scenarios: Path,
                                                  tmp_path: Path) -> None:
    drop = ("--abort-share", "1", "--abort-after", "0.3")
    endpoint, port = reference_app()
    good = sselab_load(*short(endpoint, port, scenarios, *drop), report=tmp_path / "g.json")
    endpoint, port = reference_app(flags=("no_abort",))
    bad = sselab_load(*short(endpoint, port, scenarios, *drop), report=tmp_path / "b.json")
    for run in (good, bad):
        assert run.code == 0, run.out + run.err
        assert run.report["client"]["outcomes"]["aborted"] >= 8  # type: ignore[index]
    g_up, b_up = good.report["upstream"], bad.report["upstream"]  # type: ignore[index]
    g_aborted = good.report["client"]["outcomes"]["aborted"]  # type: ignore[index]
    assert g_up["closed_early"] >= g_aborted * 0.8
    assert b_up["closed_early"] <= 1 and b_up["completed"] >= 8
    assert "keeps reading" in bad.out and "keeps reading" not in good.out


def test_nothing_listening_is_one_line_and_exit_1(tmp_path: Path) -> None:
    port = free_port()
    run = sselab_load("--endpoint", f"http://127.0.0.1:{port}/api/chat", "--upstream-port",
                      str(free_port()), "--run-time", "2")
    assert run.code == 1
    assert f"preflight: cannot connect to 127.0.0.1:{port}" in run.err
    assert "Traceback" not in run.err + run.out and len(run.err.strip().splitlines()) == 1


def test_an_app_not_pointed_at_the_simulator(reference_app: App) -> None:
    endpoint, port = reference_app()
    other = free_port()  # sselab load's simulator is not where the app looks
    run = sselab_load("--endpoint", endpoint, "--upstream-port", str(other), "--run-time", "2")
    assert run.code == 1, run.out + run.err
    assert f"never called the simulator at http://127.0.0.1:{other}" in run.err


@pytest.mark.parametrize("flag", ["--csv"])
def test_locust_csv_files(reference_app: App, scenarios: Path, tmp_path: Path,
                          flag: str) -> None:
    endpoint, port = reference_app()
    prefix = tmp_path / "run"
    run = sselab_load(*short(endpoint, port, scenarios, flag, str(prefix)))
    assert run.code == 0, run.out + run.err
    stats = (tmp_path / "run_stats.csv").read_text()
    rows = {line.split(",")[1]: line.split(",") for line in stats.splitlines()[1:]}
    assert {"TTFT", "stream", "gap p99"} <= set(rows)
    assert rows["TTFT"][0] == "SSE" and int(rows["stream"][2]) >= 8
