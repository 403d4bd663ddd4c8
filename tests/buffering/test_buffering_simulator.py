"""The buffering profiles in front of sselab's own simulator (``POST /sse``, plain SSE).

The simulator sends only what providers send (``Cache-Control: no-cache``, no
``X-Accel-Buffering``, no ``no-transform``), so a provider stream relayed raw through nginx is
buffered, as in production. It paces tokens 25 ms apart, faster than the default burst gap, so
this also exercises the report's adaptive burst gap.
"""

from __future__ import annotations

from sselab import Simulator
from sselab.buffering import BufferingProxy, abuffering_report, fetch_trace

SCENARIO = {"X-Sselab-Scenario": "default"}


async def test_report_on_the_simulator(sim: Simulator) -> None:
    rows = await abuffering_report(sim.base_url + "/sse", "POST", {"prompt": "hi"}, SCENARIO,
                                   timeout=30)
    by_name = {r.profile: r for r in rows}
    assert all(r.status == 200 and r.events == by_name["passthrough"].events for r in rows)
    assert by_name["passthrough"].burst_gap < 0.040  # tokens come faster than 40 ms
    assert by_name["full-buffer"].verdict == "buffered"
    assert by_name["gzip-middleware"].verdict == "buffered"  # no Cache-Control: no-transform
    assert by_name["passthrough"].bursts >= 4, by_name["passthrough"]
    for name in ("nginx", "nginx-gzip"):  # no X-Accel-Buffering: no; ~3 KB < one 4 KiB buffer
        assert by_name[name].verdict == "buffered", by_name[name]


async def test_nginx_profile_holds_a_raw_provider_stream(sim: Simulator) -> None:
    async with BufferingProxy("nginx", sim.base_url) as proxy:
        trace = await fetch_trace(proxy.url + "/sse", "POST", b"{}",
                                  {**SCENARIO, "Content-Type": "application/json"}, timeout=30)
    assert trace.status == 200 and trace.complete and trace.events > 5
    assert trace.first_event_at() > 0.5  # held until the end (~0.7 s), not streamed
