"""Scenario files: strict validation with file:line: field errors, and the built-in set."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sselab import ScenarioError, load_all, load_dir, load_text
from sselab.scenario import builtin_dir
from sselab.shaping import faults


def err(text: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_text(textwrap.dedent(text), "s.yaml", default_name="s")
    return info.value


def test_builtin_scenarios_are_many_described_and_cover_every_fault() -> None:
    found = load_all()
    assert len(found) >= 15
    assert all(s.description and "\n" not in s.description for s in found.values())
    used = {f.type_name for s in found.values() for f in s.faults}
    assert used == set(faults()), f"fault types without a built-in scenario: {set(faults()) - used}"
    assert {p.stem for p in builtin_dir().glob("*.yaml")} == set(found)


def test_unknown_key_names_file_line_and_field() -> None:
    e = err("""
        response:
          text: hi
        timing:
          ttft_ms: 10
          tokn_ms: 5
        """)
    assert (e.file, e.line, e.field) == ("s.yaml", 6, "timing.tokn_ms")
    assert "unknown key 'tokn_ms'" in str(e) and "token_ms" in str(e)
    assert str(e).startswith("s.yaml:6: timing.tokn_ms:")


def test_wrong_type_in_a_fault() -> None:
    e = err("""
        response: {text: "a b c"}
        faults:
          - type: stall
            at_token: two
            ms: 100
        """)
    assert (e.line, e.field) == (5, "faults[0].at_token")
    assert "whole number" in str(e) and "'two'" in str(e)


def test_impossible_fault_position() -> None:
    e = err("""
        response: {text: "one two three"}
        faults:
          - {type: error_event, at_token: 9}
        """)
    assert e.field == "faults[0].at_token" and "between 0 and 3" in str(e)


@pytest.mark.parametrize("faults_yaml, needle", [
    ("- {type: explode, at_token: 1}", "unknown fault type 'explode'"),
    ("- {type: stall, at_token: 1}", "exactly one of ms or forever"),
    ("- {type: close}", "exactly one of at_token or at_ms"),
    ("- {type: http_error, status: 200}", "HTTP error status"),
    ("- {type: split, size: 0}", "at least 1"),
    ("- {type: close, at_token: 1}\n- {type: reset, at_token: 2}", "only one fault may end"),
    ("- {type: close, at_token: 1}\n- {type: malformed_json, at_token: 2}", "never reached"),
    ("- {at_token: 1}", "each fault needs a type"),
])
def test_fault_errors(faults_yaml: str, needle: str) -> None:
    text = 'response: {text: "a b c"}\nfaults:\n' + textwrap.indent(faults_yaml, "  ")
    with pytest.raises(ScenarioError, match=needle):
        load_text(text, "f.yaml", default_name="f")


def test_response_needs_exactly_one_source() -> None:
    assert "at most one of text, faker, json" in str(err("response: {text: a, json: {a: 1}}"))
    assert "give one of" in str(err("response: {}"))


def test_not_yaml_and_not_a_mapping() -> None:
    e = err("response: [unclosed\n")
    assert "not valid YAML" in str(e) and e.line is not None
    assert "mapping" in str(err("- just\n- a list\n"))


def test_directory_duplicate_names_and_unreadable(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("name: same\nresponse: {text: x}\n")
    (tmp_path / "b.yaml").write_text("name: same\nresponse: {text: y}\n")
    with pytest.raises(ScenarioError, match="also used by"):
        load_dir(tmp_path)
    with pytest.raises(ScenarioError, match="not a directory"):
        load_dir(tmp_path / "missing")


def test_user_directory_overrides_builtin(tmp_path: Path) -> None:
    (tmp_path / "default.yaml").write_text("description: mine\nresponse: {text: x}\n")
    assert load_all([tmp_path])["default"].description == "mine"


def test_lone_surrogates_are_rejected_not_sent() -> None:
    e = err('response:\n  text: "globe \\ud83c\\udf0d"\n')
    assert e.field == "response.text" and "lone surrogate" in str(e)
    e = err('response:\n  tool_calls: [{name: f, arguments: {city: "\\udf0d"}}]\n')
    assert e.field == "response.tool_calls[0].arguments.city"
    ok = load_text('response:\n  text: "globe \\U0001F30D"\n', "ok.yaml", default_name="ok")
    assert ok.response.text == "globe 🌍"
