"""Real nginx and its emulation side by side, on the same upstream stream.

Each case starts /usr/sbin/nginx with a config of our own (see buffering_real_nginx.py) and an
emulated profile with the same directives, streams the same events through both at once, and
asserts the same arrival pattern: burst counts within one, and the events completed at each
burst's end within one event. Events are 150 ms apart and a burst ends after 40 ms of silence,
so a scheduling hiccup on a busy machine would have to last over 100 ms to merge two bursts.
"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from buffering_real_nginx import RealNginx, nginx_available
from buffering_upstream import Upstream

from sselab.buffering import BufferingProxy, Trace, fetch_trace, get_profile
from sselab.buffering.profiles.nginx import Nginx

pytestmark = pytest.mark.skipif(not nginx_available(),
                                reason="real nginx not installed (/usr/sbin/nginx missing)")

GZIP_SSE = ("text/html", "text/event-stream")
CASES = {
    # name: (nginx directives, emulated behaviour, upstream query)
    "default-small-events": ("", Nginx(), "size=50&count=8"),
    "default-x-accel-buffering-no": ("", Nginx(), "size=50&count=8&accel=no"),
    "default-large-events": ("", Nginx(), "size=5000&count=8"),
    "default-1000-byte-events": ("", Nginx(), "size=1000&count=10"),
    "proxy-http-version-1.1": ("proxy_http_version 1.1;", Nginx(proxy_http_version="1.1"),
                               "size=50&count=8"),
    "proxy-buffering-off": ("proxy_buffering off;", Nginx(proxy_buffering=False),
                            "size=5000&count=6"),
    "gzip-event-stream": ("gzip on; gzip_types text/event-stream;",
                          Nginx(gzip=True, gzip_types=GZIP_SSE), "size=50&count=8"),
    "gzip-x-accel-buffering-no": ("gzip on; gzip_types text/event-stream;",
                                  Nginx(gzip=True, gzip_types=GZIP_SSE),
                                  "size=50&count=8&accel=no"),
}


def pattern(trace: Trace) -> list[int]:
    """Events completed by the end of each burst."""
    return [b.events for b in trace.bursts()]


def assert_same_pattern(real: Trace, emulated: Trace) -> None:
    assert (emulated.status, emulated.complete, emulated.events) == (
        real.status, real.complete, real.events)
    assert emulated.header("content-encoding") == real.header("content-encoding")
    r, e = pattern(real), pattern(emulated)
    assert abs(len(r) - len(e)) <= 1, (r, e)
    short, long_ = sorted((r, e), key=len)
    for events in short:  # every boundary of one has a boundary within an event in the other
        assert any(abs(events - other) <= 1 for other in long_), (r, e)


@pytest.mark.parametrize("case", list(CASES))
async def test_emulation_matches_real_nginx(upstream: Upstream, case: str) -> None:
    directives, behaviour, query = CASES[case]
    profile = dataclasses.replace(get_profile("nginx"), behaviour=behaviour)
    path = f"/sse?{query}&interval=0.15"
    headers = {"Accept-Encoding": "gzip"}
    with RealNginx(upstream.url, directives) as nginx:
        async with BufferingProxy(profile, upstream.url) as proxy:
            real, emulated = await asyncio.gather(
                fetch_trace(nginx.url + path, headers=headers, timeout=20),
                fetch_trace(proxy.url + path, headers=headers, timeout=20))
    assert_same_pattern(real, emulated)


async def test_registered_nginx_profiles_match_their_configs(upstream: Upstream) -> None:
    """The shipped ``nginx`` and ``nginx-gzip`` profiles are nginx with those directives."""
    path = "/sse?size=50&count=6&interval=0.15"
    headers = {"Accept-Encoding": "gzip"}
    for name, directives in (("nginx", ""), ("nginx-gzip",
                                             "gzip on; gzip_types text/event-stream;")):
        with RealNginx(upstream.url, directives) as nginx:
            async with BufferingProxy(name, upstream.url) as proxy:
                real, emulated = await asyncio.gather(
                    fetch_trace(nginx.url + path, headers=headers, timeout=20),
                    fetch_trace(proxy.url + path, headers=headers, timeout=20))
        assert_same_pattern(real, emulated)
        assert len(real.bursts()) == 1  # both buffer a short stream whole


@pytest.mark.parametrize("path", ["/reset", "/slow_body"])
async def test_mid_body_failures_match_real_nginx(upstream: Upstream, path: str) -> None:
    with RealNginx(upstream.url, "proxy_read_timeout 1s;") as nginx:
        async with BufferingProxy("nginx", upstream.url, read_timeout=1) as proxy:
            real, emulated = await asyncio.gather(
                fetch_trace(nginx.url + path, timeout=10),
                fetch_trace(proxy.url + path, timeout=10))
    assert (emulated.status, emulated.complete, emulated.events) == (
        real.status, real.complete, real.events)
    assert not real.complete
