"""Nasty scenario files: each is one-line ``file:line: field: message`` errors, never a traceback.

Every case is a file someone could write by mistake or on purpose: recursive aliases, a
"billion laughs" alias bomb, 10,000 nested brackets, dates and binary data where JSON goes,
``.nan`` and ``.inf`` where a number goes, a key given twice, a Faker asked for 100 million words,
numbers too long to convert quickly, bytes YAML refuses. Before the loader was bounded, a third
of them raised RecursionError, TypeError, AttributeError or ValueError (a traceback), the bomb
and the Faker case hung for minutes and gigabytes, and the ``.nan``/``.inf``/duplicate-key cases
were accepted, to fail later while serving.
"""

from __future__ import annotations

import time

import pytest

from sselab import ScenarioError, load_text

OK = "response: {text: hi}\n"


def laughs(levels: int = 9, width: int = 9) -> str:
    """The classic alias bomb: each level a list of ``width`` aliases to the level below."""
    names = "abcdefghijklmnop"[:levels]
    lines = [f"{names[0]}: &{names[0]} [" + ", ".join(["lol"] * width) + "]"]
    for prev, name in zip(names, names[1:]):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * width) + "]")
    return "\n".join(lines) + "\n" + OK


# name: (text, line, field, what the message says); line/field None: not applicable
CASES: dict[str, tuple[str, int | None, str | None, str]] = {
    "recursive-list": ("a: &a [*a]\n" + OK, 1, "a[0]", "recursive alias"),
    "recursive-map": ("a: &a {b: {c: *a}}\n" + OK, 1, "a.b.c", "recursive alias"),
    "billion-laughs": (laughs(), 5, "e[5]", "more than 50,000 values"),
    "text-bomb": ("a: &a '" + "x" * 10_000 + "'\nb: [" + ", ".join(["*a"] * 200) + "]\n" + OK,
                  2, "b[103]", "more than 1,048,576 characters of text"),
    "unknown-alias": ("response: {text: *nope}\n", 1, None, "undefined alias"),
    "deep-brackets": ("response: {text: hi}\nx: " + "[" * 10_000 + "]" * 10_000 + "\n", 2,
                      "x[0][0]", "nested more than 64 levels deep"),
    "deep-mappings": (OK + "x: " + "{a: " * 3_000 + "1" + "}" * 3_000 + "\n", 2, "x.a.a",
                      "nested more than 64 levels deep"),
    "deep-block": (OK + "x:\n" + "".join("  " * i + "-\n" for i in range(1, 80)), 66, "x[0]",
                   "nested more than 64 levels deep"),
    "deep-json": ("response:\n  json: " + "[" * 70 + "]" * 70 + "\n", 2, "response.json[0]",
                  "nested more than 64 levels deep"),
    "unknown-locale": ("response: {faker: {locale: xx_YY, words: 3}}\n", 1,
                       "response.faker.locale", "unknown Faker locale 'xx_YY'"),
    "empty-locale": ("response: {faker: {locale: '', words: 3}}\n", 1, "response.faker.locale",
                     "unknown Faker locale ''"),
    "faker-100m-words": ("response: {faker: {seed: 1, words: 100000000}}\n", 1,
                         "response.faker.words", "between 1 and 200,000"),
    "faker-zero-sentences": ("response: {faker: {sentences: 0}}\n", 1,
                             "response.faker.sentences", "between 1 and 20,000"),
    "faker-two-counts": ("response: {faker: {words: 3, paragraphs: 2}}\n", 1, "response.faker",
                         "at most one of words, sentences, paragraphs"),
    "fault-type-list": (OK + "faults: [{type: [stall], at_token: 1, ms: 1}]\n", 2,
                        "faults[0].type", "unknown fault type (a list)"),
    "fault-type-mapping": (OK + "faults:\n  - type: {stall: 1}\n", 3, "faults[0].type",
                           "unknown fault type (a mapping)"),
    "json-date": ("response:\n  json: {when: 2024-05-01}\n", 2, "response.json.when",
                  "not a JSON value: a date"),
    "json-binary": ("response:\n  json: {blob: !!binary aGVsbG8=}\n", 2, "response.json.blob",
                    "not a JSON value: binary data"),
    "json-set": ("response:\n  json: !!set {a, b}\n", 2, "response.json",
                 "not a JSON value: a set"),
    "json-nan": ("response:\n  json: {score: .nan}\n", 2, "response.json.score",
                 "finite number, got the number .nan"),
    "json-int-key": ("response:\n  json: {200: ok}\n", 2, "response.json.200",
                     "a JSON key must be a string"),
    "args-datetime": ("response:\n  tool_calls:\n    - name: f\n      arguments: "
                      "{at: 2024-05-01 10:00:00}\n", 4, "response.tool_calls[0].arguments.at",
                      "not a JSON value: a date"),
    "args-not-json": ("response:\n  tool_calls: [{name: f, arguments: '{\"city\": Par'}]\n", 2,
                      "response.tool_calls[0].arguments", "not valid JSON"),
    "args-json-nan": ("response:\n  tool_calls: [{name: f, arguments: '{\"x\": NaN}'}]\n", 2,
                      "response.tool_calls[0].arguments", "NaN is not a finite number"),
    "text-is-binary": ("response: {text: !!binary aGk=}\n", 1, "response.text",
                       "expected a string, got binary data"),
    "retry-after-nan": (OK + "faults: [{type: http_error, status: 429, retry_after: .nan}]\n",
                        2, "faults[0].retry_after", "finite number, got the number .nan"),
    "token-ms-inf": (OK + "timing: {token_ms: .inf}\n", 2, "timing.token_ms",
                     "finite number, got the number .inf"),
    "ttft-minus-inf": (OK + "timing: {ttft_ms: -.inf}\n", 2, "timing.ttft_ms",
                       "finite number, got the number -.inf"),
    "at-ms-huge": (OK + "faults: [{type: close, at_ms: 1.0e+300}]\n", 2, "faults[0].at_ms",
                   "must be between -9,007,199,254,740,991 and 9,007,199,254,740,991"),
    "seed-huge": (OK + "timing: {seed: 123456789012345678901234567890}\n", 2, "timing.seed",
                  "must be between"),
    "duplicate-top-key": ("response: {text: a}\nresponse: {text: b}\n", 2, "response",
                          "key 'response' is given twice (first on line 1)"),
    "duplicate-flow-key": (OK + "faults: [{type: close, at_token: 1, at_token: 0}]\n", 2,
                           "faults[0].at_token", "given twice"),
    "duplicate-bool-key": ("response:\n  json: {yes: 1, true: 2}\n", 2, "response.json.true",
                           "given twice"),
    "number-5000-digits": (OK + "usage: {input_tokens: " + "9" * 5_000 + "}\n", 2,
                           "usage.input_tokens", "a number longer than 100 characters"),
    "base60-number": (OK + "x: 1" + ":59" * 30_000 + "\n", 2, "x",
                      "a number longer than 100 characters"),
    "bad-int-tag": (OK + "usage: {input_tokens: !!int twelve}\n", 2, "usage.input_tokens",
                    "not a valid int"),
    "bad-bool-tag": (OK + "x: !!bool maybe\n", 2, "x", "not a valid bool"),
    "bad-date": ("response:\n  json: {d: 2023-02-30}\n", 2, "response.json.d",
                 "not a valid timestamp"),
    "python-tag": ("response: !!python/object/apply:os.system [echo hi]\n", 1, None,
                   "could not determine a constructor"),
    "nul-character": ("response: {text: \"a\x00b\"}\n", 1, None, "special characters"),
    "tab-indent": ("response:\n\ttext: hi\n", 2, None, "not valid YAML"),
    "unhashable-key": (OK + "? [a, b]\n: c\n", 2, None, "unhashable key"),
    "newline-in-key": (OK + '"bad\\nkey": 1\n', 2, "bad\\nkey", "unknown key 'bad\\nkey'"),
    "control-in-name": ('name: "a\\x07b"\n' + OK, 1, "name", "control characters"),
    "too-many-faults": (OK + "faults:\n" + "  - {type: close, at_token: 0}\n" * 101, 2,
                        "faults", "more than 100 faults"),
    "too-many-tokens": ("tokenize: chars\nresponse: {text: '" + "x" * 250_000 + "'}\n", 2,
                        "response.text", "more than 200,000 tokens"),
    "too-big": ("response: {text: '" + "x" * 1_100_000 + "'}\n", None, None,
                "larger than 1,048,576 bytes"),
    "list-document": ("- response: {text: hi}\n", 1, None, "must be a mapping"),
    "empty-document": ("", None, None, "must be a mapping"),
}


def one_line_errors(text: str, file: str = "nasty.yaml") -> tuple[list[ScenarioError], float]:
    t0 = time.perf_counter()
    with pytest.raises(ScenarioError) as info:
        load_text(text, file, default_name="nasty")
    took = time.perf_counter() - t0
    for e in info.value.errors:
        assert isinstance(e, ScenarioError)
        assert len(str(e).splitlines()) == 1 and str(e).isprintable(), repr(str(e))
    return info.value.errors, took


def test_there_are_many_nasty_cases() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("name", list(CASES))
def test_nasty_file_is_one_line_error(name: str) -> None:
    text, line, field, needle = CASES[name]
    errors, took = one_line_errors(text)
    first = errors[0]
    assert needle in first.reason, str(first)
    assert first.file == "nasty.yaml"
    prefix = "nasty.yaml" + (f":{line}" if line is not None else "") + ": "
    assert str(first).startswith(prefix), str(first)
    assert first.line == line, str(first)
    if field is not None:
        assert first.field is not None and first.field.startswith(field), str(first)
    assert took < 5.0, f"{name} took {took:.1f} s"  # generous: a shared, slow machine
