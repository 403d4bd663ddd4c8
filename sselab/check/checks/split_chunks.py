"""``split-chunks``: upstream frames arrive in arbitrary byte pieces, cut inside ``data:`` lines,
JSON strings and multi-byte UTF-8 characters; the text the client receives must be exact.

Catches decoding each network read on its own (``chunk.decode()`` mangles a character split
across reads into U+FFFD) and parsing each read as whole lines.
"""

from __future__ import annotations

from ..context import CheckContext, Expected
from ..model import CheckResult, Timeline
from .base import check

TEXT = ("Grüße aus Köln — naïve façade, crème brûlée. 日本語のテキスト 中文字符 한국어 "
        "🚀✨👩‍💻🙂🙃 Ελληνικά русский עברית ÅÄÖ ½ € ✓ 寿司🍣 おわり")
SCENARIOS = [
    {"name": "split-random", "response": {"text": TEXT}, "tokenize": "words",
     "timing": {"ttft_ms": 50, "token_ms": 20},
     "faults": [{"type": "split", "mode": "random", "min_size": 1, "max_size": 12,
                 "seed": 7, "pause_ms": 1}]},
    {"name": "split-3-bytes", "response": {"text": TEXT}, "tokenize": "approx4",
     "timing": {"ttft_ms": 50, "token_ms": 15},
     "faults": [{"type": "split", "mode": "fixed", "size": 3, "pause_ms": 0.5}]},
]


def first_difference(got: str, want: str) -> str:
    i = next((k for k, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
    return (f"at character {i}: got {got[max(0, i - 10):i + 10]!r}, expected "
            f"{want[max(0, i - 10):i + 10]!r}")


@check("split-chunks", "Split chunks", order=60,
       summary="byte-split upstream frames (inside multi-byte characters): the text is exact")
async def run(ctx: CheckContext) -> CheckResult:
    problems: list[str] = []
    timelines: list[Timeline] = []
    measurements: dict[str, object] = {}
    for spec in SCENARIOS:
        expected: Expected = ctx.use(spec)
        label = spec["name"]
        stream = await ctx.open()
        rec = await ctx.upstream(stream, expected.scenario)
        await stream.finished(expected.tokens[-1][0] + 10.0)
        got = stream.trace.text
        timelines.append(ctx.timeline(f"{label}: upstream writes in byte pieces", stream,
                                      ctx.records(stream.trace.started, expected.scenario)))
        measurements[f"{label}_upstream_writes"] = len(rec.writes)
        measurements[f"{label}_text_matches"] = got == expected.text
        if got == expected.text:
            continue
        bad = got.count("\ufffd")
        why = f" ({bad} U+FFFD replacement characters: a split character was decoded " \
              "on its own)" if bad else ""
        if not got:
            problems.append(f"{label}: no text received (ended with {stream.trace.end})")
        else:
            problems.append(f"{label}: text differs {first_difference(got, expected.text)}{why}")
    if problems:
        return ctx.result("fail", "; ".join(problems), measurements, problems, timelines)
    return ctx.result("pass", f"exact text through {len(SCENARIOS)} byte-split streams "
                              f"({', '.join(str(s['name']) for s in SCENARIOS)})",
                      measurements, [], timelines)
