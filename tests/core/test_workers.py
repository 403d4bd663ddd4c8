"""``sselab serve --workers N`` / :class:`Workers`: several processes on one port, one control
API whose answers are a single process's (every record, unique ids, settings on every worker)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sselab.errors import ConfigError, SselabError
from sselab.workers import HAS_REUSEPORT, Workers

pytestmark = pytest.mark.skipif(not HAS_REUSEPORT, reason="needs SO_REUSEPORT")

CHAT = "/v1/chat/completions"
QUICK = ("description: a short quick stream\nresponse: {text: 'one two three four five'}\n"
         "timing: {ttft_ms: 5, token_ms: 5}\n")
QUICK_CLOSE = QUICK.replace("a short quick stream", "closes after 2 tokens") + \
    "faults:\n  - {type: close, at_token: 2}\n"
SLOW = ("description: slow\nresponse: {faker: {seed: 1, words: 400}}\n"
        "timing: {ttft_ms: 5, token_ms: 100}\n")
EXPECTED = {"quick": "completed", "quick-close": "fault_closed", "http-429": "http_error"}


def body(stream: bool = True) -> dict:
    return {"model": "gpt-4o", "stream": stream, "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    folder = tmp_path_factory.mktemp("scenarios")
    Path(folder, "quick.yaml").write_text(QUICK)
    Path(folder, "quick-close.yaml").write_text(QUICK_CLOSE)
    Path(folder, "slow.yaml").write_text(SLOW)
    with Workers(2, scenario_dirs=[folder]) as w:
        yield w


def per_worker(w: Workers, path: str) -> list[dict]:
    return [httpx.get(f"http://127.0.0.1:{p}{path}").json() for p in w.control_ports]


async def _streams(w: Workers, n: int) -> dict[str, str]:
    """``n`` streaming requests, 50 at a time; each one's request id and scenario."""
    names = list(EXPECTED)
    gate = asyncio.Semaphore(50)

    async def one(c: httpx.AsyncClient, i: int) -> tuple[str, str]:
        name = names[i % len(names)]
        async with gate, c.stream("POST", w.url(CHAT), json=body(),
                                  headers={"X-Sselab-Scenario": name}) as r:
            try:
                async for _ in r.aiter_bytes():
                    pass
            except httpx.RemoteProtocolError:  # quick-close: the body stops short
                assert name == "quick-close"
            return r.headers["X-Sselab-Request-Id"], name

    # a new connection each time, so that the kernel spreads them over the workers
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_keepalive_connections=0),
                                 transport=httpx.AsyncHTTPTransport(retries=0)) as c:
        return dict(await asyncio.gather(*(one(c, i) for i in range(n))))


def test_200_streams_over_two_workers_are_all_listed_with_their_outcomes(
        workers: Workers) -> None:
    workers.reset()
    sent = asyncio.run(_streams(workers, 200))
    assert len(sent) == 200  # ids unique across the workers
    listing = httpx.get(workers.url("/_sselab/requests?limit=1000")).json()
    got = {r["id"]: r for r in listing["requests"]}
    assert set(got) == set(sent)
    assert {i: got[i]["outcome"] for i in sent} == {i: EXPECTED[n] for i, n in sent.items()}
    assert {i: got[i]["scenario"] for i in sent} == sent
    ids = [r["id"] for r in listing["requests"]]
    assert ids == sorted(ids) and listing["next"] is None
    assert listing["timeline"]["requests"] == 200 and listing["timeline"]["in_flight"] == 0
    served = [p["timeline"]["requests"] for p in per_worker(workers, "/_sselab/requests")]
    assert sum(served) == 200 and min(served) > 0  # both workers served some
    # paging over the merged listing gives every record once, in order
    paged, since = [], ""
    for _ in range(20):
        page = httpx.get(workers.url(f"/_sselab/requests?limit=30&since={since}")).json()
        paged += [r["id"] for r in page["requests"]]
        if page["next"] is None:
            break
        since = page["next"]
    assert paged == ids
    # stats aggregate: the sum of the workers', percentiles over every write
    stats = workers.stats()
    alone = per_worker(workers, "/_sselab/stats")
    assert stats["requests"] == 200
    assert stats["outcomes"] == {o: sum(n == o for n in (EXPECTED[s] for s in sent.values()))
                                 for o in set(EXPECTED.values())}
    assert stats["writes"] == sum(s["writes"] for s in alone) > 0
    assert min(s["late_ms"]["max"] for s in alone) <= stats["late_ms"]["max"] \
        == max(s["late_ms"]["max"] for s in alone)
    # and the Python API reads the same records, writes included
    recs = workers.requests
    assert [r.id for r in recs] == ids
    assert all(r.write_count == len(r.writes) and r.done for r in recs)


def _open_slow(port: int) -> tuple[socket.socket, str]:
    payload = json.dumps(body()).encode()
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              f"X-Sselab-Scenario: slow\r\nContent-Length: {len(payload)}\r\n\r\n".encode()
              + payload)
    got = b""
    deadline = time.monotonic() + 5
    while b'"finish_reason":null}' not in got and time.monotonic() < deadline:
        got += s.recv(65536)
    head = got.split(b"\r\n\r\n", 1)[0].decode()
    rid = next(line.split(":", 1)[1].strip() for line in head.split("\r\n")
               if line.lower().startswith("x-sselab-request-id"))
    return s, rid


def test_an_abort_on_any_worker_is_recorded_within_50ms(workers: Workers) -> None:
    workers.reset()
    recorded, seen = [], []
    for _ in range(8):  # new connections: both workers get some
        s, rid = _open_slow(workers.port)
        time.sleep(0.15)  # between two tokens
        left = time.time()
        s.close()
        rec: dict = {}
        for _ in range(2_000):
            rec = httpx.get(workers.url(f"/_sselab/requests/{rid}?writes=0")).json()
            if rec["outcome"] != "in_progress":
                break
        seen.append(time.time() - left)
        assert rec["outcome"] == "client_disconnected"
        recorded.append(rec["client_disconnected_at"] - left)
    served = [p["timeline"]["requests"] for p in per_worker(workers, "/_sselab/requests")]
    assert min(served) > 0, served
    print(f"abort recorded after max {max(recorded) * 1000:.1f} ms; visible through the "
          f"control API after max {max(seen) * 1000:.1f} ms")
    assert max(recorded) < 0.05
    assert max(seen) < 0.5  # the fan-out's own round trip, generous for a busy machine


def test_settings_and_reset_apply_to_every_worker(workers: Workers) -> None:
    workers.reset()
    added = httpx.post(workers.url("/_sselab/scenarios"), json={"yaml": QUICK.replace(
        "a short quick stream", "uploaded") + "name: uploaded\n"})
    assert added.status_code == 200 and added.json() == {"added": "uploaded"}
    for answer in per_worker(workers, "/_sselab/scenarios"):
        assert "uploaded" in [s["name"] for s in answer["scenarios"]]
    bad = httpx.post(workers.url("/_sselab/scenarios"), json={"yaml": "response: [1"})
    assert bad.status_code == 400 and "error" in bad.json()
    try:
        assert httpx.put(workers.url("/_sselab/default-scenario"),
                         json={"scenario": "uploaded"}).json() == {"default": "uploaded"}
        assert {a["default"] for a in per_worker(workers, "/_sselab/scenarios")} == {"uploaded"}
        missing = httpx.put(workers.url("/_sselab/default-scenario"), json={"scenario": "nope"})
        assert missing.status_code == 404
        for _ in range(6):
            httpx.post(workers.url(CHAT), json=body(stream=False),
                       headers={"Connection": "close"})
        assert {r.scenario for r in workers.requests} == {"uploaded"}
    finally:
        workers.set_default_scenario("default")
    assert workers.call_count >= 6
    answer = httpx.post(workers.url("/_sselab/reset"), json={}).json()
    assert answer == {"reset": True, "kept_in_flight": 0}
    assert [p["timeline"]["requests"] for p in per_worker(workers, "/_sselab/requests")] \
        == [0, 0]
    assert httpx.get(workers.url("/_sselab/health")).json() == {"ok": True, "workers": 2}


def test_a_worker_that_cannot_start_is_named(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))  # no SO_REUSEPORT: no worker can share it
    taken.listen()
    try:
        with pytest.raises(ConfigError, match=r"worker \d did not start: OSError"):
            Workers(2, port=taken.getsockname()[1]).start()
    finally:
        taken.close()
    Path(tmp_path, "bad.yaml").write_text("response: {text: hi}\ntiming: {ttft_ms: -1}\n")
    with pytest.raises(SselabError, match="ttft_ms"):
        Workers(2, scenario_dirs=[tmp_path])
    with pytest.raises(ConfigError, match="at least 1"):
        Workers(0)


def test_serve_workers_from_the_command_line() -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-m", "sselab", "serve", "--port", "0", "--quiet",
                             "--workers", "2"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on" in line, line
        base = line.rsplit(" ", 1)[1].strip()
        pids = [int(p) for p in proc.stdout.readline().split("pids ")[1].split(")")[0]
                .split(", ")]
        assert len(pids) == 2
        for _ in range(4):
            httpx.post(base + CHAT, json=body(stream=False), headers={"Connection": "close"})
        assert httpx.get(base + "/_sselab/stats").json()["requests"] == 4
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0 and "stopped" in out
    for pid in pids:  # the workers are gone too
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_scenario_object_added_from_python_reaches_every_worker(workers: Workers) -> None:
    import dataclasses

    from sselab.scenario.schema import Timing

    base = workers.scenarios["unicode"]
    made = dataclasses.replace(base, name="unicode-fast", timing=Timing(token_ms=1))
    workers.add_scenario(made)
    for _ in range(4):
        r = httpx.post(workers.url(CHAT), json=body(stream=False),
                       headers={"X-Sselab-Scenario": "unicode-fast", "Connection": "close"})
        assert r.json()["choices"][0]["message"]["content"] == base.response.text
    for answer in per_worker(workers, "/_sselab/scenarios"):
        assert "unicode-fast" in [s["name"] for s in answer["scenarios"]]


def test_the_control_token_guards_every_worker() -> None:
    token = "s3cret-token"
    with Workers(2, control_token=token) as w:
        httpx.post(w.url(CHAT), json=body(stream=False), headers={"Connection": "close"})
        assert httpx.get(w.url("/_sselab/requests")).status_code == 401  # the public port
        for port in w.control_ports:  # and each worker's own control port
            assert httpx.get(f"http://127.0.0.1:{port}/_sselab/requests").status_code == 401
        auth = {"Authorization": f"Bearer {token}"}
        answer = httpx.get(w.url("/_sselab/requests"), headers=auth)
        assert answer.status_code == 200 and answer.json()["timeline"]["requests"] == 1
        assert [r.outcome for r in w.requests] == ["completed"]  # Workers passes it on itself
        assert w.stats()["requests"] == 1
        w.reset()
        assert w.call_count == 0


def test_connection_limits_apply_in_every_worker() -> None:
    """A connection that never sends a request is closed after the header timeout, whichever
    worker the kernel gave it to."""
    with Workers(2, header_timeout=0.3) as w:
        socks = [socket.create_connection(("127.0.0.1", w.port)) for _ in range(8)]
        try:
            start = time.monotonic()
            for s in socks:
                s.settimeout(5)
                assert s.recv(1024) == b""  # closed by the worker holding it
            assert time.monotonic() - start < 3
        finally:
            for s in socks:
                s.close()
        with pytest.raises(ConfigError, match="header_timeout"):
            Workers(2, header_timeout=0)


def test_serve_workers_with_a_control_token() -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
           "SSELAB_CONTROL_TOKEN": "tok-123"}
    proc = subprocess.Popen([sys.executable, "-m", "sselab", "serve", "--port", "0", "--quiet",
                             "--workers", "2", "--idle-timeout", "5"],
                            stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on" in line, line
        base = line.rsplit(" ", 1)[1].strip()
        assert httpx.get(base + "/_sselab/stats").status_code == 401
        answer = httpx.get(base + "/_sselab/stats", headers={"Authorization": "Bearer tok-123"})
        assert answer.status_code == 200 and answer.json()["requests"] == 0
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=15)
    assert proc.returncode == 0
