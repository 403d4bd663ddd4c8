"""``sselab check`` end to end: a full run against the reference app writing every report, and
bad input (options, unreachable / HTML / non-streaming endpoints, a body the app rejects, a busy
port) giving one clear message and a failing exit status, never a traceback."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from check_apps import create_relay_app
from click.testing import CliRunner, Result
from junitparser import JUnitXml

from sselab.check.cli import check_command, parse_size
from sselab.cli import main
from sselab_reference_app import AppThread


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(check_command, list(args), catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


@pytest.fixture
def fixture_app() -> Iterator[str]:
    """The fixture relay (for its /page and /json routes), in a thread."""
    with AppThread(create_relay_app("http://127.0.0.1:9/v1")) as app:
        yield app.url


def test_list() -> None:
    result = invoke("--list")
    assert result.exit_code == 0
    names = [line.split()[0] for line in result.output.splitlines()]
    assert names == ["headers", "progressive", "abort", "mid-stream-error", "stall",
                     "split-chunks", "slow-consumer", "upstream-errors", "resume",
                     "concurrency"]


def test_the_sselab_group_has_the_command() -> None:
    result = CliRunner().invoke(main, ["check", "--list"])
    assert result.exit_code == 0 and "slow-consumer" in result.output


@pytest.mark.parametrize("args,message", [
    ([], "--endpoint is required"),
    (["--endpoint", "ftp://x/y"], "--endpoint: only http:// URLs"),
    (["--endpoint", "http://127.0.0.1:1/", "--body", "{bad"], "--body: not valid JSON"),
    (["--endpoint", "http://127.0.0.1:1/", "--body", "@/nonexistent/b.json"],
     "--body: cannot read /nonexistent/b.json"),
    (["--endpoint", "http://127.0.0.1:1/", "--header", "no colon"], "--header: expected"),
    (["--endpoint", "http://127.0.0.1:1/", "--only", "headers,nope"],
     "--only: unknown check 'nope'"),
    (["--endpoint", "http://127.0.0.1:1/", "--extract", "json"], "--extract: unknown mode"),
    (["--endpoint", "http://127.0.0.1:1/", "--read-ahead-bound", "lots"],
     "--read-ahead-bound: expected a size"),
    (["--endpoint", "http://127.0.0.1:1/", "--method", "BREW"], "--method: expected one of"),
    (["--endpoint", "http://127.0.0.1:1/", "--abort-bound", "-1"], "abort-bound: must be"),
])
def test_bad_options_name_the_option(args: list[str], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert message in result.output


def test_sizes() -> None:
    assert [parse_size(v) for v in ("4MiB", "512k", "2MB", "1000")] == [
        4 * 1024 ** 2, 512 * 1024, 2 * 1024 ** 2, 1000]


def test_unreachable_endpoint(tmp_path) -> None:
    port = free_port()
    junit = tmp_path / "j.xml"
    result = invoke("--endpoint", f"http://127.0.0.1:{port}/api/chat", "--upstream-port",
                    str(free_port()), "--only", "headers,abort", "--junit", str(junit))
    assert result.exit_code == 1
    assert result.output.count(f"cannot connect to 127.0.0.1:{port}") == 1  # said once
    assert "not run" not in result.output
    suite = next(iter(JUnitXml.fromfile(str(junit))))
    assert (suite.tests, suite.errors) == (2, 2)


@pytest.mark.parametrize("path,method,message", [
    ("/page", "GET", "an HTML page (text/html), not a stream"),
    ("/json", "POST", "one application/json body"),
])
def test_endpoints_that_do_not_stream(fixture_app: str, path: str, method: str,
                                      message: str) -> None:
    result = invoke("--endpoint", fixture_app + path, "--method", method, "--upstream-port",
                    str(free_port()), "--only", "headers")
    assert result.exit_code == 1
    assert message in result.output


def test_busy_upstream_port() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = invoke("--endpoint", "http://127.0.0.1:1/x", "--upstream-port", str(port))
    assert result.exit_code == 2
    assert f"cannot start the simulator on 127.0.0.1:{port}: the port is in use" in result.output


@pytest.fixture
def reference_app() -> Iterator[tuple[str, int]]:
    port = free_port()
    with AppThread(upstream_base_url=f"http://127.0.0.1:{port}/v1", idle_timeout=1.0) as app:
        yield app.url + "/api/chat", port


def test_quiet_prints_the_table_alone(reference_app: tuple[str, int]) -> None:
    url, port = reference_app
    result = invoke("-q", "--endpoint", url, "--upstream-port", str(port), "--only",
                    "headers,progressive")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("CHECK") and "VERDICT" in lines[0]
    rows = [ln.split()[0] for ln in lines[2:] if ln and not ln.startswith((" ", "-"))]
    assert rows[:2] == ["headers", "progressive"]
    assert "upstream simulator" not in result.output


def test_a_body_the_app_rejects(reference_app: tuple[str, int]) -> None:
    url, port = reference_app
    result = invoke("--endpoint", url, "--upstream-port", str(port), "--body", '{"nope": 1}',
                    "--only", "headers")
    assert result.exit_code == 1
    assert "the endpoint answered HTTP 400" in result.output and "--body" in result.output


@pytest.mark.timeout(90)
def test_full_run_against_the_reference_app(reference_app: tuple[str, int], tmp_path) -> None:
    url, port = reference_app
    paths = {k: tmp_path / f"report.{k}" for k in ("json", "xml", "html")}
    result = invoke("--endpoint", url, "--upstream-port", str(port), "--stall-wait", "3",
                    "--report-json", str(paths["json"]), "--junit", str(paths["xml"]),
                    "--html", str(paths["html"]))
    assert result.exit_code == 0, result.output
    assert f"OPENAI_BASE_URL=http://127.0.0.1:{port}/v1" in result.output
    assert "OK: 10 pass" in result.output
    for name in ("headers", "progressive", "concurrency"):  # the live line, not a table too
        live = [ln for ln in result.output.splitlines() if ln[8:].startswith(f"{name} ")]
        assert len(live) == 1, name
    assert "VERDICT" not in result.output
    data = json.loads(paths["json"].read_text())
    assert data["ok"] is True and len(data["checks"]) == 10
    assert data["duration"] < 60
    suite = next(iter(JUnitXml.fromfile(str(paths["xml"]))))
    assert (suite.tests, suite.failures, suite.errors) == (10, 0, 0)
    assert paths["html"].read_text().count("<svg") >= 10
