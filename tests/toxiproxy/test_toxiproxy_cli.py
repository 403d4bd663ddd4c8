"""``sselab toxiproxy``: prints where it listens, serves the API, stops cleanly on Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from click.testing import CliRunner

from sselab.toxiproxy.cli import toxiproxy_command

ROOT = Path(__file__).resolve().parents[2]
COMMAND = ["-c", "from sselab.toxiproxy.cli import toxiproxy_command; toxiproxy_command()"]


def _spawn(*args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, *COMMAND, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def test_help_and_defaults():
    result = CliRunner().invoke(toxiproxy_command, ["--help"])
    assert result.exit_code == 0
    assert "--host" in result.output and "--port" in result.output
    defaults = {p.name: p.default for p in toxiproxy_command.params}
    assert defaults == {"host": "127.0.0.1", "port": 8474}  # Toxiproxy's port


def test_serves_until_ctrl_c():
    proc = _spawn("--port", "0")
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert url, line
        with urllib.request.urlopen(url.group(0) + "/version", timeout=5) as resp:
            assert json.load(resp)["version"]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err


def test_port_in_use_is_a_clear_error():
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        proc = _spawn("--port", str(port))
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in err and "in use" in err
    assert "Traceback" not in err
