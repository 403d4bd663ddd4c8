"""The ``sselab`` command: serve prints its URL and stops on Ctrl-C; clear errors, no traces."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from click.testing import CliRunner

from sselab.cli import main

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_scenarios_lists_every_builtin_with_its_description() -> None:
    code, out = run("scenarios")
    assert code == 0
    lines = out.strip().splitlines()
    assert len(lines) >= 15
    assert any(line.startswith("mid-stream-error") and "40 tokens" in line for line in lines)


def test_scenarios_show_and_unknown() -> None:
    code, out = run("scenarios", "show", "stall-forever")
    assert code == 0 and "forever: true" in out
    code, out = run("scenarios", "show", "nope")
    assert code == 2 and "unknown scenario 'nope'" in out and "Traceback" not in out


def test_bad_scenario_directory_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("response:\n  text: hi\nfaults:\n  - {type: stal}\n")
    code, out = run("scenarios", "--scenarios", str(tmp_path))
    assert code == 2 and "Traceback" not in out
    assert f"{tmp_path / 'broken.yaml'}:4: faults[0].type: unknown fault type 'stal'" in out
    code, out = run("scenarios", "check", str(tmp_path / "broken.yaml"))
    assert code == 1 and out.strip().endswith("1 file, 1 error")


FIVE_MISTAKES = """\
name: five
descripton: a misspelt key
response:
  text: hello there
  colour: blue
timing:
  token_ms: fast
faults:
  - {type: nosuchfault}
  - type: stall
    at_token: 1
    seconds: 1
"""


def test_scenarios_check_reports_every_error_in_every_file(tmp_path: Path) -> None:
    (tmp_path / "five.yaml").write_text(FIVE_MISTAKES)
    (tmp_path / "syntax.yaml").write_text('name: syn\nresponse: {text: "unterminated\n')
    (tmp_path / "twin1.yaml").write_text("name: twin\nresponse: {text: a}\n")
    (tmp_path / "twin2.yaml").write_text("name: twin\nresponse: {text: b}\n")
    code, out = run("scenarios", "check", str(tmp_path))
    assert code == 1 and "Traceback" not in out
    five = tmp_path / "five.yaml"
    for line in (f"{five}:2: descripton: unknown key 'descripton'",
                 f"{five}:5: response.colour: unknown key 'colour'",
                 f"{five}:7: timing.token_ms: expected a number, got the string 'fast'",
                 f"{five}:9: faults[0].type: unknown fault type 'nosuchfault'",
                 f"{five}:12: faults[1].seconds: unknown key 'seconds'",
                 f"{tmp_path / 'syntax.yaml'}:3: not valid YAML",
                 f"{tmp_path / 'twin2.yaml'}: name: scenario name 'twin' is also used by "
                 f"{tmp_path / 'twin1.yaml'}"):
        assert line in out, line
    assert f"ok   {tmp_path / 'twin1.yaml'}" in out
    assert out.strip().endswith("4 files, 7 errors")


def test_scenarios_check_goes_on_to_dependent_checks_when_the_rest_is_good(
        tmp_path: Path) -> None:
    (tmp_path / "pos.yaml").write_text("response: {text: one two}\ntiming: {ttft_ms: -1}\n"
                                       "faults:\n  - {type: stall, at_token: 99, ms: 5}\n"
                                       "  - {type: close, at_token: 50}\n")
    code, out = run("scenarios", "check", str(tmp_path / "pos.yaml"))
    assert code == 1
    assert "timing.ttft_ms: must be 0 or more; got -1" in out
    assert "faults[0].at_token: must be between 0 and" in out
    assert "faults[1].at_token: must be between 0 and" in out
    assert out.strip().endswith("1 file, 3 errors")


def test_serve_fails_fast_naming_every_bad_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("response: {text: hi}\nfaults: [{type: stal}]\n")
    (tmp_path / "b.yaml").write_text("response: {txt: hi}\n")
    (tmp_path / "c.yaml").write_text("response: {text: fine}\n")
    code, out = run("serve", "--port", "0", "--scenarios", str(tmp_path))
    assert code == 2 and "Traceback" not in out
    first = out.splitlines()[0]
    assert first.startswith("sselab: 2 scenario errors in ")
    assert str(tmp_path / "a.yaml") in first and str(tmp_path / "b.yaml") in first
    assert str(tmp_path / "c.yaml") not in out


def test_serve_port_0_prints_url_serves_and_stops_on_ctrl_c() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "sselab", "serve", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert "listening on http://127.0.0.1:" in line
        base = line.rsplit(" ", 1)[1].strip()
        assert not base.endswith(":0")
        r = httpx.get(base + "/_sselab/health", timeout=5)
        assert r.json() == {"ok": True}
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0 and "stopped" in out and "Traceback" not in err


def test_serve_port_in_use_is_a_clear_error() -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    try:
        port = s.getsockname()[1]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.run([sys.executable, "-m", "sselab", "serve", "--port", str(port)],
                              capture_output=True, text=True, env=env, timeout=30)
    finally:
        s.close()
    assert proc.returncode == 2
    assert "sselab:" in proc.stderr and "Traceback" not in proc.stderr


def test_every_subsystem_command_is_plugged_in() -> None:
    assert set(main.commands) == {"serve", "scenarios", "toxiproxy", "proxy",
                                  "buffering-report", "check", "demo", "load", "record"}
