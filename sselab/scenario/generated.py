"""Bounds on what a scenario generates: Faker counts and locale, and the tokens it streams.

Checked before the text is generated or the script planned, so that ``words: 100000000`` is a
one-line error, not minutes of Faker and gigabytes of tokens.
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any

from .limits import MAX_FAKER, MAX_TOKENS
from .schema import FakerText

if TYPE_CHECKING:
    from .schema import Response, Scenario
    from .validate import Where


@functools.lru_cache(maxsize=1)
def _locales() -> frozenset[str]:
    from faker.config import AVAILABLE_LOCALES

    return frozenset(AVAILABLE_LOCALES)


def check_faker(spec: FakerText, where: Where, path: str) -> None:
    """Counts between 1 and their limit, at most one of them, and a locale Faker has."""
    from ..script.build import faker_text

    given = [k for k in MAX_FAKER if getattr(spec, k) is not None]
    if len(given) > 1:
        raise where.error(path, f"give at most one of {', '.join(MAX_FAKER)}; got "
                                f"{' and '.join(given)}")
    for key in given:
        value, top = getattr(spec, key), MAX_FAKER[key]
        if not 1 <= value <= top:
            raise where.error(f"{path}.{key}", f"must be between 1 and {top:,}; got {value:,}")
    if spec.locale not in _locales():
        examples = ", ".join(x for x in ("en_US", "de_DE", "fr_FR", "ja_JP") if x in _locales())
        raise where.error(f"{path}.locale", f"unknown Faker locale {spec.locale[:40]!r} (e.g. "
                                            f"{examples}; {len(_locales())} in all)")
    try:
        faker_text(spec)
    except Exception as exc:  # noqa: BLE001 - Faker's own failure, reported as the field's
        raise where.error(path, f"Faker could not generate this text: "
                                f"{type(exc).__name__}: {exc}") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a finite number")


def check_arguments(response: Response, where: Where) -> None:
    """Tool-call arguments given as a string must be JSON text (or blank, read as ``{}``):
    formats that send arguments as an object (Anthropic, Gemini, Ollama...) parse them."""
    for i, call in enumerate(response.tool_calls):
        if not isinstance(call.arguments, str) or not call.arguments.strip():
            continue
        try:
            json.loads(call.arguments, parse_constant=_no_constant)
        except json.JSONDecodeError as exc:
            problem = f"{exc.msg} at character {exc.pos}"
        except (ValueError, RecursionError) as exc:
            problem = str(exc) if isinstance(exc, ValueError) else "nested too deep"
        else:
            continue
        raise where.error(f"response.tool_calls[{i}].arguments",
                          f"not valid JSON ({problem}): give a mapping, or a string of JSON")


def _bound(text: str, mode: str) -> int:
    """At least the number of tokens ``text`` makes in ``mode``, cheaply."""
    return -(-len(text) // 4) if mode == "approx4" else len(text)


def check_tokens(scenario: Scenario, where: Where) -> None:
    """The script must stream at most MAX_TOKENS tokens (counted exactly only when the cheap
    bound, one token a character, is over the limit)."""
    from ..script.build import answer_text, tokenize

    r = scenario.response
    source = next((k for k in ("text", "faker", "json") if getattr(r, k) is not None), "text")
    pieces = [(r.thinking or "", scenario.tokenize, "response.thinking"),
              (answer_text(scenario), scenario.tokenize, f"response.{source}")]
    for i, call in enumerate(r.tool_calls):
        args = call.arguments if isinstance(call.arguments, str) else json.dumps(
            call.arguments, ensure_ascii=False)
        pieces.append((args, "approx4", f"response.tool_calls[{i}].arguments"))
    if sum(max(1, _bound(text, mode)) for text, mode, _ in pieces) <= MAX_TOKENS:
        return
    total = 0
    for text, mode, path in pieces:
        count = len(tokenize(text, mode))
        total += max(1, count) if path.endswith(".arguments") else count
        if total > MAX_TOKENS:
            raise where.error(path, f"the scenario would stream more than {MAX_TOKENS:,} tokens "
                                    "(the limit for a scenario)")
