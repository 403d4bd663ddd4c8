"""Locust's own master/worker protocol on localhost: one ``sselab load --master`` and two
``sselab load --worker`` processes; the master's totals equal the sum of the workers' own, in
sselab's summary and in Locust's request statistics. And a plain ``locust -f`` run of a
locustfile with a StreamUser: Locust's CLI and CSV files work unchanged."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from load_helpers import ROOT, free_port

App = Callable[..., tuple[str, int]]
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "sselab", "load", *args], cwd=ROOT,
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str], timeout: float = 90) -> tuple[int, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return proc.returncode, out + err


def test_a_master_and_two_workers(reference_app: App, scenarios: Path, tmp_path: Path) -> None:
    endpoint, port = reference_app()
    master_port = free_port()
    master = start("--master", "--expect-workers", "2", "--master-port", str(master_port),
                   "--expect-workers-timeout", "40", "--endpoint", endpoint, "--upstream-port",
                   str(port), "--scenarios", str(scenarios), "--scenario", "load-short",
                   "--users", "10", "--spawn-rate", "10", "--run-time", "5s", "--abort-share",
                   "0.3", "--abort-after", "0.2", "-q", "--report-json",
                   str(tmp_path / "master.json"))
    workers = [start("--worker", "--master-port", str(master_port), "-q", "--report-json",
                     str(tmp_path / f"worker{i}.json")) for i in (1, 2)]
    code, out = finish(master)
    results = [finish(w, 30) for w in workers]
    assert code == 0, out
    for wcode, wout in results:
        assert wcode == 0, wout
    m = json.loads((tmp_path / "master.json").read_text())
    w = [json.loads((tmp_path / f"worker{i}.json").read_text()) for i in (1, 2)]
    totals = [x["client"]["streams"] for x in w]
    assert all(t > 0 for t in totals)  # both did work
    assert m["client"]["streams"] == sum(totals)
    assert sorted(m["workers"].values()) == sorted(totals)
    assert sorted(m["client"]["sources"].values()) == sorted(totals)
    for key in ("complete", "aborted", "error", "timeout", "cut"):
        assert m["client"]["outcomes"][key] == sum(x["client"]["outcomes"][key] for x in w)
    assert m["client"]["gap_ms"]["count"] == sum(x["client"]["gap_ms"]["count"] for x in w)
    # Locust's own statistics, aggregated by its master, count the same streams
    o = m["client"]["outcomes"]
    assert m["locust"]["stream"]["requests"] == o["complete"] + o["error"] + o["timeout"]
    assert m["locust"]["aborted"]["requests"] == o["aborted"] > 0
    assert m["upstream"]["opened"] >= o["complete"] + o["aborted"]
    assert "equal the master's" in out


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise AssertionError(f"nothing listening on port {port} after {timeout:g} s")


LOCUSTFILE = '''
from sselab.load import StreamUser


class Chat(StreamUser):
    host = "{host}"
    path = "/api/chat"
    body = {{"model": "load-short", "messages": [{{"role": "user", "content": "hi"}}]}}
'''


def test_a_plain_locustfile(reference_app: App, scenarios: Path, tmp_path: Path) -> None:
    endpoint, port = reference_app()
    sim = subprocess.Popen([sys.executable, "-m", "sselab", "serve", "--port", str(port),
                            "--scenarios", str(scenarios), "-q"], cwd=ROOT, env=ENV,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        host = endpoint.removesuffix("/api/chat")
        (tmp_path / "locustfile.py").write_text(LOCUSTFILE.format(host=host))
        proc = subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(tmp_path / "locustfile.py"),
             "--headless", "-u", "4", "-r", "4", "-t", "4s", "--csv", str(tmp_path / "l"),
             "--only-summary"], cwd=tmp_path, env=ENV, capture_output=True, text=True,
            timeout=90)
    finally:
        sim.terminate()
        sim.wait(10)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out  # Locust: 0 when no request failed
    assert "TTFT" in out and "gap p99" in out, out
    assert "client (what users saw)" in out  # sselab's summary at the end
    stats = (tmp_path / "l_stats.csv").read_text()
    assert "SSE,TTFT," in stats and "SSE,stream," in stats
