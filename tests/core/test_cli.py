"""The ``sselab`` command: serve prints its URL and stops on Ctrl-C; clear errors, no traces."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from click.testing import CliRunner

from simulator.cli import main

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
    assert code == 1 and "FAIL" in out


def test_serve_port_0_prints_url_serves_and_stops_on_ctrl_c() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "simulator", "serve", "--port", "0"],
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
        proc = subprocess.run([sys.executable, "-m", "simulator", "serve", "--port", str(port)],
                              capture_output=True, text=True, env=env, timeout=30)
    finally:
        s.close()
    assert proc.returncode == 2
    assert "sselab:" in proc.stderr and "Traceback" not in proc.stderr


def test_every_subsystem_command_is_plugged_in() -> None:
    assert set(main.commands) == {"serve", "scenarios", "toxiproxy", "proxy",
                                  "buffering-report", "check", "demo"}
