"""buffering_report / format_report, and the two click commands."""

from __future__ import annotations

import asyncio
import re
import signal
import sys

from buffering_upstream import Upstream
from click.testing import CliRunner

from sselab.buffering import abuffering_report, buffering_report, format_report
from sselab.buffering.cli import buffering_report_command, proxy_command

NAIVE = "/sse?size=50&count=6&interval=0.15"
RIGHT = NAIVE + "&accel=no&cc=no-cache,no-transform"


async def test_report_for_an_endpoint_with_the_right_headers(upstream: Upstream) -> None:
    rows = await abuffering_report(upstream.url + RIGHT)
    verdicts = {r.profile: r.verdict for r in rows}
    assert rows[0].profile == "passthrough"
    assert verdicts == {"passthrough": "streams", "nginx": "streams", "nginx-gzip": "streams",
                        "gzip-middleware": "streams", "full-buffer": "buffered"}
    assert all(r.status == 200 and r.events == 6 for r in rows)


async def test_report_for_a_naive_endpoint(upstream: Upstream) -> None:
    rows = await abuffering_report(upstream.url + NAIVE)
    by_name = {r.profile: r for r in rows}
    assert {n: r.verdict for n, r in by_name.items()} == {
        "passthrough": "streams", "nginx": "buffered", "nginx-gzip": "buffered",
        "gzip-middleware": "buffered", "full-buffer": "buffered"}
    assert by_name["nginx"].largest_burst_events == 6
    assert by_name["nginx"].first_event - by_name["passthrough"].first_event >= 0.4
    text = format_report(rows)
    assert text.splitlines()[0].split()[:3] == ["profile", "status", "first"]
    assert re.search(r"^nginx\s+200\s+.*6 ev / \d+ B\s+buffered$", text, re.M)
    assert "  nginx: send X-Accel-Buffering: no" in text.split("fixes:")[1]
    assert "passthrough:" not in text.split("fixes:")[1]


async def test_report_marks_errors(upstream: Upstream) -> None:
    rows = await abuffering_report(upstream.url + "/hang", names=["passthrough", "nginx"],
                                   read_timeout=0.3)
    assert [(r.status, r.verdict) for r in rows] == [(504, "error"), (504, "error")]


async def test_sync_report_from_plain_and_async_callers(upstream: Upstream) -> None:
    url = upstream.url + "/sse?size=50&count=2"
    plain = await asyncio.to_thread(buffering_report, url, names=["passthrough"])

    async def async_caller() -> list:  # a running loop in this thread: report uses a thread
        return buffering_report(url, names=["passthrough"])

    nested = await asyncio.to_thread(asyncio.run, async_caller())
    assert plain[0].events == nested[0].events == 2


async def test_buffering_report_command(upstream: Upstream) -> None:
    result = await asyncio.to_thread(
        CliRunner().invoke, buffering_report_command,
        ["--upstream", upstream.url + NAIVE, "--method", "POST", "--body", '{"q": 1}',
         "--header", "X-Sselab-Scenario: demo", "--profile", "nginx"])
    assert result.exit_code == 0, result.output
    assert [line.split()[0] for line in result.output.splitlines()[2:4]] == [
        "passthrough", "nginx"]
    seen = upstream.requests[-1]
    assert seen["method"] == "POST" and seen["body"] == b'{"q": 1}'
    assert seen["headers"]["X-Sselab-Scenario"] == "demo"


def test_buffering_report_command_rejects_bad_input() -> None:
    runner = CliRunner()
    for args, field in ((["--upstream", "localhost:80"], "--upstream"),
                        (["--upstream", "http://127.0.0.1:1/x", "--body", "{nope"], "--body"),
                        (["--upstream", "http://127.0.0.1:1/x", "--header", "novalue"],
                         "--header")):
        result = runner.invoke(buffering_report_command, args)
        assert result.exit_code == 2 and field in result.output, result.output
        assert "Traceback" not in result.output


def test_proxy_command_rejects_unknown_profile() -> None:
    result = CliRunner().invoke(proxy_command, ["--profile", "haproxy", "--upstream",
                                                "http://127.0.0.1:1"])
    assert result.exit_code == 2 and "nginx-gzip" in result.output


async def test_proxy_command_prints_its_port_and_proxies(upstream: Upstream) -> None:
    code = "from sselab.buffering.cli import proxy_command; proxy_command()"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, "--profile", "nginx", "--upstream", upstream.url,
        "--port", "0", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        match = re.search(r"listening on (http://127\.0\.0\.1:(\d+))", line)
        assert match and int(match.group(2)) > 0, line
        from sselab.buffering import fetch_trace
        trace = await fetch_trace(match.group(1) + NAIVE, timeout=10)
        assert trace.status == 200 and trace.events == 6 and len(trace.bursts()) == 1
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), 10)
    assert proc.returncode == 0
