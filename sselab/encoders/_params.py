"""Request-parameter type checks with the provider's own 400 wording (OpenAI and Azure).

The live OpenAI API answers a wrongly typed parameter with 400 and, for ``stream: "yes"``::

    {"error": {"message": "Invalid type for 'stream': expected a boolean, but got a string
     instead.", "type": "invalid_request_error", "param": "stream", "code": "invalid_type"}}

:class:`InvalidParam` carries that message, ``param`` and ``code``; the server answers it in the
format's error shape. ``null`` reads as absent, as in the API.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


class InvalidParam(ValueError):
    """A request parameter the provider would refuse with 400, in its own words."""

    def __init__(self, message: str, param: str | None, code: str | None = "invalid_type"):
        super().__init__(message)
        self.message, self.param, self.code = message, param, code


def kind(value: Any) -> str:
    """How the API names a JSON value's type: ``a string``, ``an integer``, ``an array``..."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null"


def _expect(body: Mapping[str, Any], name: str, expected: str,
            ok: Callable[[Any], bool]) -> None:
    value = body.get(name)
    if value is not None and not ok(value):
        raise InvalidParam(f"Invalid type for '{name}': expected {expected}, but got "
                           f"{kind(value)} instead.", name)


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def check_common(body: Mapping[str, Any]) -> None:
    """``model`` a string, ``stream`` a boolean (Chat Completions and Responses)."""
    _expect(body, "model", "a string", _is_str)
    _expect(body, "stream", "a boolean", _is_bool)


def check_chat(body: Mapping[str, Any]) -> None:
    """Chat Completions: also ``messages`` an array of objects."""
    check_common(body)
    _expect(body, "messages", "an array of objects", lambda v: isinstance(v, list))
    for i, message in enumerate(body.get("messages") or ()):
        if not isinstance(message, dict):
            raise InvalidParam(f"Invalid type for 'messages[{i}]': expected an object, but got "
                               f"{kind(message)} instead.", f"messages[{i}]")


def check_responses(body: Mapping[str, Any]) -> None:
    """Responses: also ``input`` a string or an array of input items."""
    check_common(body)
    _expect(body, "input", "one of a string or array of input items",
            lambda v: isinstance(v, (str, list)))
