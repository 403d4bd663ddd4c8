"""Helpers for ``sselab load``'s tests: free ports, the reference app (in a thread of this
process, which Locust never patches), and running ``sselab load`` in a child process (Locust
monkey-patches whatever imports it, so the pytest process never does)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SHORT = """name: load-short
description: 30 tokens, 30 ms apart, for short load tests.
response:
  faker: {seed: 3, words: 30}
tokenize: words
timing: {ttft_ms: 100, token_ms: 30}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Run:
    code: int
    out: str
    err: str
    report: dict[str, Any] | None


def sselab_load(*args: str, report: Path | None = None, timeout: float = 90) -> Run:
    """``python -m sselab load ARGS`` in a child process (with ``--report-json`` if given)."""
    cmd = [sys.executable, "-m", "sselab", "load", *args]
    if report is not None:
        cmd += ["--report-json", str(report)]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=ROOT)
    data = json.loads(report.read_text()) if report is not None and report.exists() else None
    return Run(proc.returncode, proc.stdout, proc.stderr, data)
