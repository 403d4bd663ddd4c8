"""The endpoint's upstream during a load run: the simulator, and what its timeline says.

``sselab load`` runs Locust in its own process, and Locust monkey-patches that process for
gevent; the simulator (asyncio, and pacing tokens to the millisecond) therefore runs as
``sselab serve`` in a child process on ``--upstream-port``, on its own core where there is
one. After the run its timeline (``/_sselab/requests?writes=0``) gives :func:`upstream_view`:
the streams the endpoint opened, closed early (before the answer's end), read late (the
simulator waited on a full socket: the endpoint was slow to read) and left open.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError

LATE_MS = 20.0  # a stream whose writes waited this long in all on the reader was read late
RECORDER_LIMIT = 10_000  # the simulator keeps the most recent records


class UpstreamProcess:
    """``sselab serve`` in a child process; ``start()`` returns once it answers."""

    def __init__(self, host: str, port: int, scenario: str,
                 scenario_dirs: Sequence[Path] = ()) -> None:
        self.host, self.port, self.scenario = host, port, scenario
        self.scenario_dirs = list(scenario_dirs)
        self.proc: subprocess.Popen[str] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> UpstreamProcess:
        cmd = [sys.executable, "-m", "sselab", "serve", "--host", self.host, "--port",
               str(self.port), "--default-scenario", self.scenario, "-q"]
        for d in self.scenario_dirs:
            cmd += ["--scenarios", str(d)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = (self.proc.stderr.read() if self.proc.stderr else "").strip()
                why = err.splitlines()[-1] if err else f"exit status {self.proc.returncode}"
                why = why.removeprefix("sselab: ")
                if "in use" in why.lower():
                    why += " (stop whatever uses it, or pass --upstream-port and point your " \
                           "app there)"
                raise ConfigError(f"cannot start the simulator on {self.host}:{self.port}: "
                                  f"{why}")
            with contextlib.suppress(OSError, ValueError):
                if self._get("/_sselab/health", 1.0).get("ok"):
                    return self
            time.sleep(0.1)
        self.stop()
        raise ConfigError(f"the simulator did not answer on {self.base_url} within "
                          f"{timeout:g} s")

    def _get(self, path: str, timeout: float = 10.0) -> Any:
        with urllib.request.urlopen(self.base_url + path, timeout=timeout) as resp:
            return json.loads(resp.read())

    def reset(self) -> None:
        req = urllib.request.Request(self.base_url + "/_sselab/reset", data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()

    def records(self) -> list[dict[str, Any]]:
        """Every record the simulator holds, page by page (the listing is paginated)."""
        out: list[dict[str, Any]] = []
        path = "/_sselab/requests?writes=0&limit=1000"
        for _ in range(10_000):  # bounded: one page each
            page = self._get(path, 30.0)
            out.extend(page["requests"])
            if not page.get("next") or not page["requests"]:
                break
            path = f"/_sselab/requests?writes=0&limit=1000&since={page['next']}"
        return out

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 1)


def upstream_view(records: list[dict[str, Any]], cut_at: float | None = None,
                  base_url: str = "") -> dict[str, Any]:
    """What the simulator saw of the endpoint (``records``: ``/_sselab/requests`` entries;
    ``cut_at``: unix seconds when the run's end cut the client streams still running, to tell
    the closes that caused)."""
    outcomes: dict[str, int] = {}
    for r in records:
        outcomes[r["outcome"]] = outcomes.get(r["outcome"], 0) + 1
    early = [r for r in records if r["outcome"] == "client_disconnected"]
    at_end = [r for r in early if cut_at is not None
              and (r.get("client_disconnected_at") or 0) >= cut_at - 0.1]
    late = [r for r in records if (r.get("drain_wait_ms") or 0) >= LATE_MS]
    drains = [float(r.get("drain_wait_ms") or 0) for r in records]
    ttfb = [(r["first_byte_at"] - r["received_at"]) * 1000 for r in records
            if r.get("first_byte_at") and r.get("received_at")]
    return {
        "simulator": base_url,
        "opened": len(records),
        "completed": outcomes.get("completed", 0),
        "closed_early": len(early),
        "closed_early_at_run_end": len(at_end),
        "read_late": len(late),
        "read_late_threshold_ms": LATE_MS,
        "drain_wait_ms": {"total": round(sum(drains), 1), "max": round(max(drains), 1)
                          if drains else None, "p99": _pct(drains, 0.99)},
        "still_open": outcomes.get("in_progress", 0),
        "blocked_now": sum(1 for r in records if r.get("blocked_since")),
        "outcomes": outcomes,
        "first_byte_ms": {"p50": _pct(ttfb, 0.5), "p99": _pct(ttfb, 0.99)},
        "records_may_be_missing": len(records) >= RECORDER_LIMIT,
    }
