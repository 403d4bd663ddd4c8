"""The loader's limits: a bomb is refused fast and small, legitimate files right at a limit load.

Before the loader was bounded, the 9x9 "billion laughs" file below (a few hundred bytes) ran
past 25 s and 1.6 GB and was killed; ``faker: {words: 100000000}`` took 1.9 GB. The timing bounds
here are generous (a shared machine); the memory bound is what a bounded loader cannot exceed.
"""

from __future__ import annotations

import math
import os
import re
import time
import tracemalloc
from pathlib import Path

import pytest

from sselab import ScenarioError, load_text
from sselab.scenario import builtin_dir, limits, load_file
from sselab.scenario.load import from_data
from sselab.scenario.validate import Where

from .test_loader_nasty import OK, laughs, one_line_errors

ROOT = Path(__file__).resolve().parents[2]


def test_billion_laughs_is_refused_quickly_in_little_memory() -> None:
    text = laughs(levels=9, width=9)  # 9**9 = 387 million "lol"s when expanded
    assert len(text) < 600
    tracemalloc.start()
    try:
        errors, took = one_line_errors(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "more than 50,000 values" in errors[0].reason
    assert took < 5.0
    assert peak < 50 * 2**20, f"peak {peak / 2**20:.0f} MiB"


def test_faker_asked_for_100_million_words_generates_nothing() -> None:
    tracemalloc.start()
    try:
        errors, took = one_line_errors("response: {faker: {seed: 1, words: 100000000}}\n")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert errors[0].field == "response.faker.words" and took < 5.0
    assert peak < 20 * 2**20, f"peak {peak / 2**20:.0f} MiB"


@pytest.mark.parametrize("key", list(limits.MAX_FAKER))
def test_faker_counts_at_their_limit_load_one_more_is_refused(key: str) -> None:
    top = limits.MAX_FAKER[key]
    if key != "words":  # sentences and paragraphs at the limit take seconds: check the bound
        errors, _ = one_line_errors(f"response: {{faker: {{{key}: {top + 1}}}}}\n")
        assert f"between 1 and {top:,}" in errors[0].reason
        return
    scenario = load_text(f"response: {{faker: {{seed: 3, words: {top}}}}}\n", "w.yaml", "w")
    assert scenario.response.faker is not None and scenario.response.faker.words == top
    errors, _ = one_line_errors(f"response: {{faker: {{seed: 3, words: {top + 1}}}}}\n")
    assert errors[0].field == "response.faker.words"


def test_token_limit_counts_tokens_not_characters() -> None:
    words = " ".join(["word"] * 150_000)  # 750,000 characters, 150,000 tokens: allowed
    assert load_text(f"response: {{text: '{words}'}}\n", "t.yaml", "t")
    errors, _ = one_line_errors(f"tokenize: chars\nresponse: {{text: '{words[:300_000]}'}}\n")
    assert "more than 200,000 tokens" in errors[0].reason


def test_aliases_within_the_budget_still_work_and_merge_keys_are_not_duplicates() -> None:
    scenario = load_text(
        "response:\n"
        "  tool_calls:\n"
        "    - {name: a, arguments: &args {city: Paris, units: metric}}\n"
        "    - {name: b, arguments: {<<: *args, units: imperial}}\n"
        "    - {name: c, arguments: *args}\n", "a.yaml", "a")
    first, second, third = scenario.response.tool_calls
    assert first.arguments == {"city": "Paris", "units": "metric"}
    assert second.arguments == {"city": "Paris", "units": "imperial"}
    assert third.arguments == first.arguments


def test_nesting_at_the_limit_loads_one_level_more_is_refused() -> None:
    # the document's mapping and response's are 2 levels; the lists in json are the rest
    inner = limits.MAX_DEPTH - 2
    ok = load_text("response:\n  json: " + "[" * inner + "]" * inner + "\n", "d.yaml", "d")
    assert ok.response.json is not None
    deeper = inner + 1
    errors, _ = one_line_errors("response:\n  json: " + "[" * deeper + "]" * deeper + "\n")
    assert f"nested more than {limits.MAX_DEPTH} levels deep" in errors[0].reason


def test_file_size_limit_reads_no_more_than_the_limit(tmp_path: Path) -> None:
    at_limit = tmp_path / "at.yaml"
    body = "response: {text: hi}\n"
    at_limit.write_text(body + "#" * (limits.MAX_FILE_BYTES - len(body) - 1) + "\n")
    assert at_limit.stat().st_size == limits.MAX_FILE_BYTES
    assert load_file(at_limit).name == "at"
    over = tmp_path / "over.yaml"
    over.write_text(body + "#" * limits.MAX_FILE_BYTES + "\n")
    with pytest.raises(ScenarioError, match="larger than 1,048,576 bytes") as info:
        load_file(over)
    assert str(info.value).startswith(f"{over}: ")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_named_yaml_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ScenarioError, match="not a regular file"):
        load_file(fifo)


def test_bytes_that_are_not_utf8_name_their_line(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("response:\n  text: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ScenarioError) as info:
        load_file(bad)
    assert str(info.value) == f"{bad}:2: not UTF-8: byte 0xe9 (invalid continuation byte)"


def test_mistakes_past_the_error_limit_are_counted_not_listed() -> None:
    text = OK + "".join(f"k{i}: 1\n" for i in range(150))
    errors, _ = one_line_errors(text)
    assert len(errors) == limits.MAX_ERRORS + 1
    assert errors[-1].reason == "50 more mistakes not shown"


@pytest.mark.parametrize("data, field, needle", [
    ({"response": {"json": {"x": math.nan}}}, "response.json.x", "finite number"),
    ({"response": {"text": "a"}, "timing": {"token_ms": math.inf}}, "timing.token_ms",
     "finite number"),
    ({"response": {"text": "a"}, "usage": {"input_tokens": 10**5000}}, "usage.input_tokens",
     "a very large number"),
    ({"response": {"json": {(1, 2): "tuple key"}}}, "response.json.(a list)", "must be a string"),
    ({"response": {"json": {"x": object()}}}, "response.json.x", "not a JSON value"),
    ({"response": {"json": {10**5000: 1}}}, "response.json.(a very large number)",
     "must be a string"),
])
def test_python_data_is_held_to_the_same_rules(data: dict, field: str, needle: str) -> None:
    with pytest.raises(ScenarioError) as info:
        from_data(data, Where("<python>"), default_name="p")
    assert info.value.field == field and needle in info.value.reason, str(info.value)


def test_python_data_that_contains_itself_is_an_error_not_a_recursion() -> None:
    loop: dict = {}
    loop["again"] = loop
    nested: list = []
    for _ in range(5_000):
        nested = [nested]
    for value in (loop, nested):
        with pytest.raises(ScenarioError, match="nested more than 64 levels deep"):
            from_data({"response": {"json": value}}, Where("<python>"), default_name="p")


def test_builtin_scenarios_stay_well_inside_every_limit() -> None:
    t0 = time.perf_counter()
    for path in builtin_dir().glob("*.yaml"):
        assert path.stat().st_size < limits.MAX_FILE_BYTES // 100
        load_file(path)
    assert time.perf_counter() - t0 < 10.0


def test_every_limit_is_documented_with_its_number() -> None:
    page = (ROOT / "docs" / "limits-and-safety.md").read_text(encoding="utf-8")
    section = page.split("## Scenario files", 1)[1].split("\n## ", 1)[0]
    numbers = {int(n.replace(",", "")) for n in re.findall(r"\b\d[\d,]*\b", section)}
    expected = [limits.MAX_FILE_BYTES, limits.MAX_DEPTH, limits.MAX_NODES, limits.MAX_CHARS,
                limits.MAX_NUMBER_CHARS, limits.MAX_NUMBER, limits.MAX_TOKENS,
                limits.MAX_FAULTS, limits.MAX_ERRORS, *limits.MAX_FAKER.values()]
    missing = [n for n in expected if n not in numbers]
    assert not missing, f"limits not in docs/limits-and-safety.md: {missing}"
