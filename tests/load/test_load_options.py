"""``sselab load``'s options and caps, and that ``import sselab`` never imports Locust (which
monkey-patches the process for gevent)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from sselab.errors import ConfigError
from sselab.load import LoadOptions
from sselab.load.cli import load_command
from sselab.load.options import MAX_USERS_PER_PROCESS, check_users, parse_duration


def test_durations() -> None:
    assert [parse_duration(v) for v in ("30", "30s", "2m", "1h30m", "1m30s", 5)] == [
        30, 30, 120, 5400, 90, 5]
    for bad in ("soon", "-3", "0", ""):
        with pytest.raises(ConfigError, match="--run-time"):
            parse_duration(bad)


def test_user_cap() -> None:
    assert check_users(MAX_USERS_PER_PROCESS) == MAX_USERS_PER_PROCESS
    with pytest.raises(ConfigError, match="at most 1000 per load-generating process.*--master"):
        check_users(MAX_USERS_PER_PROCESS + 1)
    assert check_users(3000, workers=3) == 3000
    with pytest.raises(ConfigError, match="at least 1"):
        check_users(0)


def test_options_round_trip_through_a_dict() -> None:
    opts = LoadOptions(endpoint="http://127.0.0.1:9/x", headers=[("A", "b")], body={"q": 1},
                       abort_share=0.5)
    again = LoadOptions.from_dict(opts.to_dict())
    assert again == opts
    assert again.target().request().headers == [("A", "b")]


@pytest.mark.parametrize("kwargs,message", [
    ({"endpoint": "ftp://x"}, "--endpoint: only http://"),
    ({"extract": "json"}, "--extract: unknown mode"),
    ({"method": "BREW"}, "--method"),
    ({"abort_share": 2.0}, "--abort-share: must be between 0 and 1"),
    ({"stream_timeout": 10_000.0}, "--stream-timeout"),
])
def test_bad_options(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        LoadOptions(**kwargs)


@pytest.mark.parametrize("args,message", [
    ([], "--endpoint is required"),
    (["--endpoint", "http://127.0.0.1:1/", "--users", "5000"], "--users: at most 1000"),
    (["--endpoint", "http://127.0.0.1:1/", "--run-time", "2h"], "--run-time: at most 3600 s"),
    (["--endpoint", "http://127.0.0.1:1/", "--run-time", "soon"], "--run-time: expected"),
    (["--endpoint", "http://127.0.0.1:1/", "--stop-timeout", "5m"], "--stop-timeout: at most"),
    (["--endpoint", "http://127.0.0.1:1/", "--body", "{bad"], "--body: not valid JSON"),
    (["--endpoint", "http://127.0.0.1:1/", "--header", "nocolon"], "--header: expected"),
    (["--master", "--worker"], "choose one"),
    (["--endpoint", "http://127.0.0.1:1/", "--html", "/nonexistent/r.html"],
     "--html: no directory '/nonexistent'"),
    (["--endpoint", "http://127.0.0.1:1/", "--csv", "/nonexistent/run"],
     "--csv: no directory '/nonexistent'"),
])
def test_bad_command_lines_say_one_line(args: list[str], message: str) -> None:
    # every one fails before Locust is imported, so this runs in the pytest process
    result = CliRunner().invoke(load_command, args, catch_exceptions=False)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert "locust" not in sys.modules


def test_importing_sselab_does_not_import_locust() -> None:
    code = ("import sys, sselab, sselab.cli, sselab.load, sselab.load.cli, sselab.load.stats\n"
            "from sselab.load import LoadReport, Aggregate\n"
            "bad = [m for m in ('locust', 'gevent') if m in sys.modules]\n"
            "assert not bad, bad\n"
            "from sselab.load import StreamUser\n"
            "assert 'locust' in sys.modules and StreamUser.abstract\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
