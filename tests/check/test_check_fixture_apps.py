"""The checks against small relay apps with bugs the reference app has no flag for: cross-talk
between concurrent streams, compression, text/plain streams, an app that never calls the
provider, and the slow-consumer check where kernel socket queues cannot be seen."""

from __future__ import annotations

import pytest

from sselab import Simulator
from sselab.check import Settings, Target, run_checks, tcp_queues

FAST = Settings(stall_wait=2.0)


async def check(sim: Simulator, url: str, *only: str, **kw: object):
    return await run_checks(Target(url, **kw), sim, only=only, settings=FAST)  # type: ignore[arg-type]


async def test_cross_talk_between_concurrent_streams(sim: Simulator, relay) -> None:
    report = await check(sim, await relay(("crosstalk",)), "concurrency", "progressive")
    assert report.failed == ["concurrency"], report.summary()
    assert "cross-talk" in report["concurrency"].message
    per_stream = report["concurrency"].measurements["per_stream"]
    assert len(per_stream) == 4 and not any(s["text_matches"] for s in per_stream)


async def test_compression_fails_headers_and_progressive(sim: Simulator, relay) -> None:
    report = await check(sim, await relay(("gzip",)), "headers", "progressive")
    assert set(report.failed) == {"headers", "progressive"}, report.summary()
    assert "Content-Encoding" in report["headers"].message


async def test_plain_text_streams_are_read_and_judged(sim: Simulator, relay) -> None:
    url = await relay(("plain_text",))
    report = await check(sim, url, "headers", "progressive", "split-chunks", "mid-stream-error")
    assert report.shape == "text"
    assert report["headers"].verdict == "warn"  # text/plain streams, but is riskier
    assert report["mid-stream-error"].verdict == "pass"  # cut short = an error to a browser
    assert report.ok, report.summary()
    swallowed = await check(sim, await relay(("plain_text", "swallow_errors")),
                            "mid-stream-error")
    assert swallowed.failed == ["mid-stream-error"]
    assert "looks complete" in swallowed["mid-stream-error"].message


@pytest.mark.parametrize("flags,verdict", [((), "pass"), (("unbounded_readahead",), "fail")])
async def test_slow_consumer_without_visible_kernel_queues(sim: Simulator, relay, monkeypatch,
                                                           flags, verdict) -> None:
    monkeypatch.setattr(tcp_queues, "queues", lambda: [])
    report = await check(sim, await relay(flags), "slow-consumer")
    result = report["slow-consumer"]
    assert result.verdict == verdict, result.message
    assert result.measurements["held_is_exact"] is False
    if verdict == "pass":
        assert "including kernel socket buffers" in result.message
    else:
        assert result.measurements["upstream_finished"] is True


async def test_slow_consumer_measures_what_the_server_holds(sim: Simulator, relay) -> None:
    report = await check(sim, await relay(), "slow-consumer")
    m = report["slow-consumer"].measurements
    assert report.ok, report.summary()
    assert m["held_is_exact"] is True
    # the kernel queues on the way hold megabytes; the relay itself holds far less
    assert m["held_in_server_bytes"] < m["upstream_bytes_written"] / 2


async def test_an_app_that_never_calls_the_simulator(sim: Simulator) -> None:
    async with Simulator() as other:  # the app is pointed at some other provider
        from check_apps import running_app

        async with running_app(other.base_url + "/v1") as app:
            report = await run_checks(Target(app.url + "/api/chat"), sim,
                                      only=["headers", "abort"], settings=FAST)
    assert report.preflight and "never called the simulator" in report.preflight
    assert f"OPENAI_BASE_URL={sim.base_url}/v1" in report.preflight
    assert [r.verdict for r in report.results] == ["error", "error"]
    assert not report.ok


async def test_an_endpoint_that_never_answers(sim: Simulator) -> None:
    import asyncio

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        await asyncio.sleep(5)
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        report = await run_checks(Target(f"http://127.0.0.1:{port}/api"), sim, only=["headers"],
                                  settings=Settings(preflight_timeout=0.5))
    finally:
        server.close()
    assert report.preflight == ("the endpoint accepted the connection but sent no response "
                                "within 0.5 s")
    assert report["headers"].verdict == "error"
