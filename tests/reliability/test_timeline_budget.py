"""The timeline keeps to a memory budget: compact writes, finished records forgotten first,
in-flight records never, what is dropped counted and said."""

from __future__ import annotations

import time
import tracemalloc

import pytest
from click.testing import CliRunner

from sselab import Simulator, SimulatorThread
from sselab.cli import main
from sselab.errors import ConfigError
from sselab.server.recorder import DEFAULT_BUDGET, RECORD_BYTES, Recorder, RequestRecord
from sselab.server.sizes import format_size, parse_size


def _finished(rec: Recorder, writes: int) -> RequestRecord:
    r = rec.new("POST", "/v1/chat/completions")
    t = time.monotonic()
    for i in range(writes):
        r.wrote(t + i * 1e-4, 40, 0.0, 1e-5)
    r.finish("completed")
    return r


def test_a_write_takes_tens_of_bytes_not_a_tuple_of_objects() -> None:
    rec = Recorder().new("POST", "/x")
    t = time.monotonic()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(50_000):
            rec.wrote(t + i * 1e-4, 20 + i % 7, 0.0, 1e-5 * (i % 3))
        per_write = (tracemalloc.get_traced_memory()[0] - before) / 50_000
    finally:
        tracemalloc.stop()
    assert per_write < 40, per_write  # a list of 4-tuples of boxed numbers took ~160 B


def test_writes_still_read_as_a_list_of_tuples() -> None:
    rec = Recorder().new("POST", "/x")
    rec.wrote(1.0, 10, 0.5, 0.25)
    rec.wrote(2.0, 20, 0.0, 0.0)
    rec.wrote(3.0, 30, 0.0, 0.125)
    assert list(rec.writes) == [(1.0, 10, 0.5, 0.25), (2.0, 20, 0.0, 0.0), (3.0, 30, 0.0, 0.125)]
    assert rec.writes[-1] == (3.0, 30, 0.0, 0.125) and rec.writes[1][1] == 20
    assert rec.writes[1:] == [(2.0, 20, 0.0, 0.0), (3.0, 30, 0.0, 0.125)]
    assert len(rec.writes) == rec.write_count == 3 and bool(rec.writes)
    assert [n for _, n, _, _ in rec.writes] == [10, 20, 30]
    assert isinstance(rec.writes[0][1], int)
    assert rec.to_json()["writes"][0]["drain_wait_ms"] == 500.0
    with pytest.raises(IndexError):
        rec.writes[3]


def test_over_budget_the_oldest_finished_go_first_and_are_counted() -> None:
    budget = 40 * (RECORD_BYTES + 34 * 1_000)  # room for about 40 records of 1,000 writes
    rec = Recorder(budget=budget)
    made = [_finished(rec, 1_000) for _ in range(100)]
    assert rec.used <= budget
    kept = rec.requests
    assert 30 <= len(kept) < 100
    assert kept == made[-len(kept):]  # the newest stay, in arrival order
    assert rec.dropped == {"records": 100 - len(kept), "writes": 0}
    assert rec.get(made[0].id) is None and rec.get(made[-1].id) is made[-1]
    assert rec.last is made[-1] and rec.call_count == len(kept)


def test_the_memory_really_held_stays_near_the_budget() -> None:
    budget = 8 * 2**20
    rec = Recorder(budget=budget)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(100):  # 100 requests of 10,000 writes: 34 MB recorded in all
            _finished(rec, 10_000)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert rec.dropped["records"] > 60 and rec.used <= budget
    # forgotten records must not linger (they did, in the arrival list, up to 2x the kept ones)
    assert held < 1.25 * budget, held / 2**20


def test_an_in_flight_record_outlives_ten_thousand_newer_requests() -> None:
    rec = Recorder()
    live = rec.new("POST", "/v1/chat/completions")
    for _ in range(10_050):
        rec.new("POST", "/v1/chat/completions").finish("completed")
    assert rec.get(live.id) is live  # a count of 10,000 used to push it out while streaming
    live.finish("completed")
    assert rec.find(lambda r: r.id == live.id) is live


def test_a_count_limit_never_forgets_in_flight_records() -> None:
    rec = Recorder(limit=10)
    live = [rec.new("POST", "/x") for _ in range(3)]
    for _ in range(50):
        rec.new("POST", "/x").finish("completed")
    assert len(rec) == 10 and all(rec.get(r.id) is r for r in live)
    assert rec.dropped["records"] == 43


def test_only_in_flight_left_the_oldest_lose_their_detail_not_their_totals() -> None:
    budget = 3 * RECORD_BYTES + 34 * 10_000
    rec = Recorder(budget=budget)
    old, new = rec.new("POST", "/a"), rec.new("POST", "/b")
    t = time.monotonic()
    for _ in range(8_200):  # two checkpoints each: 16,400 writes do not fit in 10,000
        old.wrote(t, 10, 0.001, 0.0)
        new.wrote(t, 10, 0.0, 0.0)
    assert rec.get(old.id) is old and rec.get(new.id) is new  # both still listed
    assert not old.detail and len(old.writes) == 0 and old.write_count == 8_200
    assert old.bytes_written == 82_000 and old.drain_wait == pytest.approx(8.2)
    assert new.detail and len(new.writes) == 8_200
    assert rec.used <= budget
    old.finish("completed")
    new.finish("completed")
    assert rec.dropped["writes"] >= 4_096 and rec.dropped["records"] == 0
    assert old.to_json()["write_count"] == 8_200 and old.to_json()["writes_dropped"] == 8_200


def test_dropping_is_said_once_in_a_while() -> None:
    lines: list[str] = []
    rec = Recorder(budget=12_000, on_drop=lines.append)
    for _ in range(100):
        rec.new("POST", "/x").finish("completed")
    assert len(lines) == 1, lines  # not one line per request forgotten
    assert "12 kB budget" in lines[0] and "finished requests forgotten" in lines[0]
    assert rec.dropped["records"] >= 85


def test_reset_forgets_finished_requests_and_the_counts() -> None:
    rec = Recorder(budget=5 * RECORD_BYTES)
    live = rec.new("POST", "/live")
    for _ in range(20):
        rec.new("POST", "/x").finish("completed")
    rec.reset()
    assert rec.requests == [live] and rec.dropped == {"records": 0, "writes": 0}
    assert rec.used == live._acct  # noqa: SLF001


@pytest.mark.parametrize(("text", "size"), [
    ("256MB", 256_000_000), ("1GiB", 2**30), ("64 mb", 64_000_000), ("512KiB", 512 * 1024),
    ("1.5GB", 1_500_000_000), ("4096", 4096), (1_000, 1_000), ("2g", 2_000_000_000)])
def test_sizes_are_read_with_their_units(text: str | int, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "MB", "12xb", "-5MB", "0", "lots"])
def test_bad_sizes_say_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match="size"):
        parse_size(text)


def test_sizes_print_in_their_unit() -> None:
    assert format_size(DEFAULT_BUDGET) == "256 MiB" and format_size(64_000_000) == "64 MB"


def test_the_budget_reaches_the_simulator() -> None:
    assert Simulator(timeline_budget="64MB").recorder.budget == 64_000_000
    assert Simulator().recorder.budget == DEFAULT_BUDGET
    with SimulatorThread(timeline_budget=2**20) as sim:
        assert sim.recorder.budget == 2**20
    with pytest.raises(ConfigError, match="timeline_budget"):
        Simulator(timeline_budget="huge")


def test_serve_refuses_a_bad_budget_in_one_line() -> None:
    result = CliRunner().invoke(main, ["serve", "--timeline-budget", "12xb"])
    assert result.exit_code == 2 and "not a size: '12xb'" in result.output
    assert "Traceback" not in result.output
    assert "--timeline-budget" in CliRunner().invoke(main, ["serve", "--help"]).output
