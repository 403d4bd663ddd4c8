"""The buffering profiles in front of sselab's own simulator (``POST /sse``, plain SSE).

The simulator streams like a well-behaved app (``X-Accel-Buffering: no``, ``Cache-Control:
no-cache``, no ``no-transform``) and paces tokens 25 ms apart, faster than the default burst
gap, so this also exercises the report's adaptive burst gap.
"""

from __future__ import annotations

from simulator import Simulator
from simulator.buffering import BufferingProxy, abuffering_report, fetch_trace

SCENARIO = {"X-Sselab-Scenario": "default"}


async def test_report_on_the_simulator(sim: Simulator) -> None:
    rows = await abuffering_report(sim.base_url + "/sse", "POST", {"prompt": "hi"}, SCENARIO,
                                   timeout=30)
    by_name = {r.profile: r for r in rows}
    assert all(r.status == 200 and r.events == by_name["passthrough"].events for r in rows)
    assert by_name["passthrough"].burst_gap < 0.040  # tokens come faster than 40 ms
    assert by_name["full-buffer"].verdict == "buffered"
    assert by_name["gzip-middleware"].verdict == "buffered"  # no Cache-Control: no-transform
    for name in ("passthrough", "nginx", "nginx-gzip"):  # X-Accel-Buffering: no is honoured
        assert by_name[name].bursts >= 4, by_name[name]


async def test_nginx_profile_honours_the_simulators_headers(sim: Simulator) -> None:
    async with BufferingProxy("nginx", sim.base_url) as proxy:
        trace = await fetch_trace(proxy.url + "/sse", "POST", b"{}",
                                  {**SCENARIO, "Content-Type": "application/json"}, timeout=30)
    assert trace.status == 200 and trace.complete and trace.events > 5
    assert trace.first_event_at() < 0.5  # streamed, not held until the end (~0.7 s)
    assert trace.header("x-accel-buffering") is None
