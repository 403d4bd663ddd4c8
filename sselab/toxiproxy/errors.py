"""API errors with Toxiproxy's own messages and status codes.

Every failure the HTTP API reports is an :class:`ApiError`; its JSON body is Toxiproxy's
``{"error": "...", "status": N}``. Messages below are Toxiproxy's (``api.go``); where Toxiproxy
would print a Go decoder error, sselab prints its own text after the same prefix.
"""

from __future__ import annotations

import json
from typing import Any


class ApiError(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def to_json(self) -> dict[str, Any]:
        return {"error": self.message, "status": self.status}


def bad_request_body(detail: str) -> ApiError:
    return ApiError(f"bad request body: {detail}", 400)


def missing_field(detail: str) -> ApiError:
    return ApiError(f"missing required field: {detail}", 400)


def proxy_not_found() -> ApiError:
    return ApiError("proxy not found", 404)


def proxy_already_exists() -> ApiError:
    return ApiError("proxy already exists", 409)


def invalid_stream() -> ApiError:
    return ApiError("stream was invalid, can be either upstream or downstream", 400)


def invalid_toxic_type() -> ApiError:
    return ApiError("invalid toxic type", 400)


def toxic_already_exists() -> ApiError:
    return ApiError("toxic already exists", 409)


def toxic_not_found() -> ApiError:
    return ApiError("toxic not found", 404)


def listen_error(message: str) -> ApiError:
    """A listen failure: Toxiproxy passes the Go error through as a 500."""
    return ApiError(message, 500)


def decode_body(raw: bytes) -> Any:
    """The first JSON value in ``raw``, as Go's ``json.Decoder.Decode`` reads it."""
    try:
        text = raw.decode("utf-8").lstrip()
    except UnicodeDecodeError:
        raise bad_request_body("body is not UTF-8") from None
    if not text:
        raise bad_request_body("EOF")
    try:
        value, _ = json.JSONDecoder().raw_decode(text)
    except json.JSONDecodeError as e:
        raise bad_request_body(f"invalid JSON: {e}") from None
    return value


def describe(value: Any) -> str:
    """A JSON value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def field(body: dict[str, Any], name: str, kind: type, default: Any, where: str = "") -> Any:
    """``body[name]`` checked against ``kind``; absent or null keeps ``default`` (as in Go)."""
    value = body.get(name)
    if value is None:
        return default
    ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
    if kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok:
        names = {str: "a string", bool: "a boolean", float: "a number"}
        raise bad_request_body(
            f"{name}{where} must be {names.get(kind, kind.__name__)}, not {describe(value)}")
    return value


def to_body(obj: Any) -> bytes:
    return (json.dumps(obj) + "\n").encode()
