"""Helpers shared by the benchmarks: a simulator in its own process, raw HTTP on a socket."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def simulator_process(*args: str, procs: list | None = None) -> Iterator[str]:
    """``sselab serve --port 0`` in a child process; yields its base URL; stops it by PID
    (``procs``, if given, gets the process, e.g. for :func:`cpu_seconds`)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "sselab", "serve", "--port", "0", *args],
                            stdout=subprocess.PIPE, text=True, env=env)
    if procs is not None:
        procs.append(proc)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"simulator did not start: {line!r}")
        yield line.rsplit(" ", 1)[1].strip()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def request_bytes(path: str, body: dict, headers: dict[str, str] | None = None) -> bytes:
    payload = json.dumps(body).encode()
    head = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    return (f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            f"Connection: close\r\n{head}Content-Length: {len(payload)}\r\n\r\n").encode() + payload


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def now() -> float:
    return time.perf_counter()


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (``sselab serve --workers N``'s worker processes)."""
    out, todo = [], [pid]
    for _ in range(1000):
        if not todo:
            break
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):  # children hang off the forking thread
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its descendants: the scheduler's own count
    (/proc/PID/schedstat, nanoseconds), else /proc/PID/stat's ticks (Linux; NaN elsewhere)."""
    total = 0.0
    try:
        for p in _tree(pid):
            with contextlib.suppress(OSError, ValueError, IndexError):  # every thread's
                total += sum(int((t / "schedstat").read_text().split()[0])
                             for t in Path(f"/proc/{p}/task").iterdir()) / 1e9
                continue
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")
    return total
