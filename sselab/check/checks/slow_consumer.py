"""``slow-consumer``: the user's connection is slow (small receive buffer, slow reads) while the
provider answers at full speed; the endpoint must not read the provider's answer far ahead of
what it can deliver (unbounded buffering: memory grows with every slow client).

Measured: upstream bytes the endpoint has *read* (what the simulator wrote, minus what still
sits in the kernel queues between the two, from ``/proc/net/tcp``) minus what it has passed on
(what the client read, plus what sits in the queues between endpoint and client), in upstream
bytes: the bytes held inside the team's server (give or take the simulator's own 64 KiB write
buffer; an HTTP library's read buffers count, they are the server's). Where the kernel queues
cannot be seen, the
figure includes them (an upper bound) and the verdict rests on backpressure instead: a bounded
endpoint stops reading, so the simulator's writes block before the answer is all sent.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any
from urllib.parse import urlsplit

from ...server.recorder import RequestRecord
from .. import tcp_queues
from ..context import CheckContext, Expected
from ..http_client import Stream
from ..model import CheckResult
from .base import check

TOKEN_CHARS = 2048  # big tokens: upstream and client bytes per token are alike
WINDOW = 3.0  # s of slow reading
SAMPLE = 0.1


def _spec(total_bytes: int, tokens: int | None = None) -> dict[str, Any]:
    n = tokens or max(16, total_bytes // TOKEN_CHARS)
    filler = "abcdefghijklmnopqrstuvwxyz" * (TOKEN_CHARS // 26 + 1)
    words = [f"{i:06d}{filler[:TOKEN_CHARS - 7]}" for i in range(n)]
    return {"name": "slow-consumer", "response": {"text": " ".join(words)},
            "tokenize": "words", "timing": {"ttft_ms": 50, "token_ms": 0}}


def _held(rec: RequestRecord, stream: Stream, sim_port: int, ep_port: int,
          up_per_token: float, down_per_token: float) -> tuple[float, bool]:
    """(upstream bytes held in the endpoint, measured exactly rather than an upper bound)."""
    snap = tcp_queues.queues()
    up = tcp_queues.between(sim_port, None, snap)
    trace = stream.trace
    down = tcp_queues.between(ep_port, trace.local_port, snap)
    read = rec.bytes_written - (up.server_tx + up.client_rx)
    passed = trace.body_bytes + (down.server_tx + down.client_rx if down.found else 0)
    held_tokens = read / up_per_token - passed / down_per_token
    return max(0.0, held_tokens * up_per_token), up.found and down.found


@check("slow-consumer", "Slow consumer", order=70,
       summary="a slow client with a small receive buffer; how far ahead the endpoint reads "
               "from upstream (bytes held); fail past a bound")
async def run(ctx: CheckContext) -> CheckResult:
    expected: Expected = ctx.use(_spec(ctx.settings.slow_stream_bytes))
    total = sum(len(t) for _, t in expected.tokens)
    stream = await ctx.open(rcvbuf=4096, read_size=1024, read_delay=0.02)
    try:
        rec = await ctx.upstream(stream, expected.scenario)
        return await _measure(ctx, expected, stream, rec, total)
    finally:
        await stream.disconnect()
        ctx.scenario(_spec(0, tokens=16))  # let the simulator drop the big answer


async def _measure(ctx: CheckContext, expected: Expected, stream: Stream, rec: RequestRecord,
                   total: int) -> CheckResult:
    sim_port = urlsplit(ctx.sim.base_url).port or 80
    ep_port = stream.trace.remote_port or 0
    held_max, exact, blocked_at = 0.0, True, None
    start = time.monotonic()
    done_at = None
    while time.monotonic() - start < WINDOW:
        await asyncio.sleep(SAMPLE)
        if rec.blocked_since is not None and blocked_at is None:
            blocked_at = time.monotonic()
        sizes = [n for _, n, _, _ in rec.writes[1:200]]
        up_pt = statistics.median(sizes) if sizes else TOKEN_CHARS
        got = expected.tokens_in(len(stream.trace.text))
        down_pt = stream.trace.body_bytes / got if got else TOKEN_CHARS + 40
        held, ok = _held(rec, stream, sim_port, ep_port, up_pt, down_pt)
        held_max, exact = max(held_max, held), exact and ok
        if rec.done and done_at is None:
            done_at = time.monotonic()
        if (done_at and time.monotonic() - done_at > 0.3) or (
                blocked_at and time.monotonic() - blocked_at > 1.0) or stream.trace.end:
            break
    trace = stream.trace
    bound = ctx.settings.read_ahead_bound
    client_share = trace.body_bytes / total if total else 0.0
    measurements = {
        "upstream_answer_bytes": rec.bytes_written if rec.done else None,
        "upstream_bytes_written": rec.bytes_written, "client_bytes": trace.body_bytes,
        "held_in_server_bytes": round(held_max), "held_is_exact": exact,
        "backpressure_reached_upstream": blocked_at is not None,
        "upstream_finished": rec.done and rec.outcome == "completed", "bound_bytes": bound}
    timeline = ctx.timeline("slow consumer: upstream firehose vs a slow client", stream, [rec],
                            [(blocked_at, "upstream blocked (backpressure)", "info")])
    mib = held_max / 1048576
    if trace.status is None or trace.status >= 400 or trace.end == "connect_error":
        return ctx.result("error", trace.failure or f"the endpoint answered HTTP {trace.status}",
                          measurements, [], [timeline])
    if exact:
        if held_max > bound:
            return ctx.result("fail", f"the endpoint held {mib:.1f} MiB of the upstream answer "
                                      f"it had not delivered (bound {bound / 1048576:.1f} MiB): "
                                      "unbounded read-ahead", measurements, [], [timeline])
        return ctx.result("pass", f"at most {held_max / 1024:.0f} KiB held in the server "
                                  "(kernel socket queues excluded); backpressure "
                                  f"{'reached' if blocked_at else 'not needed by'} the upstream",
                          measurements, [], [timeline])
    if rec.done and rec.outcome == "completed" and client_share < 0.5:
        return ctx.result("fail", f"the endpoint read the whole {rec.bytes_written / 1048576:.1f}"
                                  f" MiB upstream answer while the client had "
                                  f"{client_share:.0%} of it, and never applied backpressure: "
                                  "unbounded read-ahead", measurements, [], [timeline])
    return ctx.result("pass", f"the upstream answer was not read to its end ahead of the client; "
                              f"at most {mib:.1f} MiB ahead of it (including kernel socket "
                              "buffers, which this system does not show)", measurements, [],
                      [timeline])
