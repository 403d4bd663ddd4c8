"""The upstream's view of a load run (from the simulator's timeline) and the simulator in its
child process."""

from __future__ import annotations

import socket

import pytest
from load_helpers import free_port

from sselab.errors import ConfigError
from sselab.load.upstream import UpstreamProcess, upstream_view


def rec(outcome: str, *, drain: float = 0.0, closed: float | None = None,
        blocked: float | None = None) -> dict:
    return {"outcome": outcome, "drain_wait_ms": drain, "client_disconnected_at": closed,
            "received_at": 100.0, "first_byte_at": 100.2, "blocked_since": blocked}


def test_the_view_counts_what_the_endpoint_did() -> None:
    records = [rec("completed"), rec("completed", drain=35.0), rec("client_disconnected",
                                                                       closed=105.0),
               rec("client_disconnected", closed=120.0), rec("in_progress", blocked=119.0),
               rec("error_event")]
    view = upstream_view(records, cut_at=119.95, base_url="http://sim")
    assert view["opened"] == 6 and view["completed"] == 2
    assert view["closed_early"] == 2 and view["closed_early_at_run_end"] == 1
    assert view["read_late"] == 1 and view["drain_wait_ms"]["max"] == 35.0
    assert view["still_open"] == 1 and view["blocked_now"] == 1
    assert view["outcomes"]["error_event"] == 1
    assert view["first_byte_ms"]["p50"] == pytest.approx(200.0, abs=0.5)
    assert upstream_view([], None)["opened"] == 0


def test_the_simulator_process_serves_and_keeps_a_timeline() -> None:
    sim = UpstreamProcess("127.0.0.1", free_port(), "default").start()
    try:
        assert sim.records() == []
        import urllib.request

        body = b'{"model": "x", "messages": [{"role": "user", "content": "hi"}], "stream": true}'
        req = urllib.request.Request(sim.base_url + "/v1/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert b"[DONE]" in resp.read()
        [one] = sim.records()
        assert one["outcome"] == "completed" and one["scenario"] == "default"
        sim.reset()
        assert sim.records() == []
    finally:
        sim.stop()
    assert sim.proc is not None and sim.proc.poll() is not None


def test_a_busy_port_is_one_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot start the simulator on 127.0.0.1:{port}"
                                              ".*in use.*--upstream-port"):
            UpstreamProcess("127.0.0.1", port, "default").start()


def test_an_unknown_scenario_is_one_clear_error() -> None:
    with pytest.raises(ConfigError, match="cannot start the simulator.*nope"):
        UpstreamProcess("127.0.0.1", free_port(), "nope").start()
