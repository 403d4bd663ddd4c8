"""Fuzzing the loader: whatever the text, it loads or it is one-line ScenarioErrors, quickly.

Two sources of documents: random edits of the built-in scenario files (inserted YAML syntax,
aliases, tags, special numbers, deleted and repeated spans: repeats make duplicate keys), and
scenario-shaped data of random values dumped as YAML. A document that loads must also compile to
a script with finite times that every wire format encodes (stream, shaped by the faults, and
non-streaming body, or the error answer), so that validation, not serving, is where a bad file
fails.
"""

from __future__ import annotations

import json
import math
import time
from datetime import timedelta

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sselab import ScenarioError, load_text
from sselab.encoders import RequestInfo, formats
from sselab.scenario import Scenario, builtin_dir
from sselab.script.build import compile_scenario
from sselab.shaping import shape

BUILTINS = [p.read_text(encoding="utf-8") for p in sorted(builtin_dir().glob("*.yaml"))]
PIECES = ["\n", " ", "  ", ": ", "- ", "[", "]", "{", "}", ",", "&a ", "*a", "&b ", "*b",
          "!!binary ", "!!set ", "!!int ", "!!float ", "!!str ", "!!timestamp ",
          "!!python/object:os.system ",
          "<<: ", "? ", "|", ">", "'", '"', "#", "---\n", "...\n", "\t", "\\", "%YAML 1.1\n",
          ".nan", ".inf", "-.inf", "1e+400", "0x1f", "0o17", "1:30:00", "2024-02-30",
          "2024-05-01 10:00:00", "9" * 120, "~", "null", "yes", "no", "on", "é", "\U0001F30D",
          "\x00", "\x85", "\u2028", "\ufeff", "at_token: ", "at_ms: ", "type: ", "faults:",
          "response:", "text: ", "json: ", "faker: ", "words: ", "locale: ", "tool_calls:",
          "arguments: ", "timing:", "ttft_ms: ", "retry_after: ", "tokenize: ", "-1", "0",
          "199999", "100000000", "[*a, *a, *a, *a]"]

SETTINGS = settings(max_examples=300, deadline=timedelta(seconds=10), database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def check(text: str) -> None:
    """The property: a Scenario (which compiles), or one-line ScenarioErrors; in good time."""
    t0 = time.perf_counter()
    try:
        scenario = load_text(text, "fuzz.yaml", default_name="fuzz")
    except ScenarioError as exc:
        assert time.perf_counter() - t0 < 5.0
        assert exc.errors
        for e in exc.errors:
            line = str(e)
            assert line.startswith("fuzz.yaml") and line.isprintable(), repr(line)
            assert len(line.splitlines()) == 1 and len(line) < 1000, repr(line)
    else:
        assert time.perf_counter() - t0 < 5.0
        serve_offline(scenario)


def serve_offline(scenario: Scenario) -> None:
    """What the server does with a scenario, without a socket: compile it, encode it."""
    script = compile_scenario(scenario)
    assert all(math.isfinite(t.at) for t in script.events)
    if len(script.events) > 2_000:  # a long answer (firehose) is encoded by the encoder tests
        return
    for name, fmt in formats().items():
        req = RequestInfo(request_id="req_1", format=name, model="m")
        if script.http_error is not None:
            body, headers = fmt.error(script.http_error, req)
            json.dumps(body, allow_nan=False)
            assert all(isinstance(v, str) for v in headers.values())
            continue
        for item in shape(fmt.stream(script, req), scenario.faults):
            assert math.isfinite(item.at)
        json.dumps(fmt.complete(script, req), allow_nan=False)


@st.composite
def mutated_builtin(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(BUILTINS))
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 40)))
        action = draw(st.sampled_from(["insert", "delete", "repeat", "replace"]))
        if action == "insert":
            text = text[:i] + draw(st.sampled_from(PIECES)) + text[i:]
        elif action == "delete":
            text = text[:i] + text[j:]
        elif action == "repeat":
            text = text[:j] + text[i:j] + text[j:]
        else:
            text = text[:i] + draw(st.text(max_size=8)) + text[j:]
    return text


@SETTINGS
@given(mutated_builtin())
def test_mutated_builtin_scenarios_load_or_fail_in_one_line(text: str) -> None:
    check(text)


KEYS = ["name", "description", "response", "text", "faker", "json", "tool_calls", "thinking",
        "finish_reason", "seed", "words", "sentences", "paragraphs", "locale", "arguments", "id",
        "tokenize", "timing", "ttft_ms", "token_ms", "jitter_ms", "burst", "size", "pause_ms",
        "usage", "input_tokens", "faults", "type", "at_token", "at_ms", "ms", "forever",
        "keepalive_ms", "status", "retry_after", "kind", "message", "mode"]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.integers(-3, 300),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    st.sampled_from(["stall", "close", "reset", "http_error", "error_event", "split", "words",
                     "chars", "approx4", "en_US", "xx_YY", "stop", "overloaded", "fixed"]),
    st.binary(max_size=8), st.dates(), st.datetimes())
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=5), st.integers()), inner,
                    max_size=4)), max_leaves=20)


FAULT_TYPES = ["stall", "close", "reset", "http_error", "error_event", "split", "slow_start",
               "line_endings", "malformed_json", "missing_terminator", "content_filter",
               "corrupt_frame"]
NUMBERS = st.one_of(st.integers(-2, 12), st.integers(-(2**70), 2**70),
                    st.floats(allow_nan=True, allow_infinity=True), st.floats(0, 1e4))


@st.composite
def scenario_shaped(draw: st.DrawFn) -> str:
    """Mostly a good scenario, with random values in random places (each may be wrong)."""
    source = draw(st.sampled_from(["text", "faker", "json", "tool_calls"]))
    response = {"text": {"text": "one two three four five six"},
                "faker": {"faker": {"seed": draw(NUMBERS), "words": draw(NUMBERS)}},
                "json": {"json": draw(VALUES)},
                "tool_calls": {"tool_calls": [{"name": "f", "arguments": draw(VALUES)}]}}[source]
    doc: dict = {"response": response}
    if draw(st.booleans()):
        doc["timing"] = {k: draw(NUMBERS) for k in draw(st.lists(st.sampled_from(
            ["ttft_ms", "token_ms", "jitter_ms", "seed"]), max_size=3, unique=True))}
    faults = []
    for kind in draw(st.lists(st.sampled_from(FAULT_TYPES), max_size=3)):
        fault = {"type": kind, "at_token": draw(st.integers(0, 6))}
        for key in draw(st.lists(st.sampled_from(KEYS[27:]), max_size=3)):
            fault[key] = draw(st.one_of(NUMBERS, VALUES))
        faults.append(fault)
    if faults:
        doc["faults"] = faults
    doc.update(draw(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=2)))
    return yaml.safe_dump(doc, allow_unicode=draw(st.booleans()), sort_keys=False)


@SETTINGS
@given(scenario_shaped())
def test_random_scenario_shaped_documents_load_or_fail_in_one_line(text: str) -> None:
    check(text)
