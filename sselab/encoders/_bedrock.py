"""What the two Bedrock formats (``bedrock_converse``, ``bedrock_invoke``) share: the request's
model id and action, error bodies and exception frames, the ``p`` padding, headers.

Bedrock runtime is a rest-json AWS service: HTTP errors carry ``x-amzn-ErrorType:
<Code>:http://internal.amazon.com/coral/com.amazon.bedrock/`` and a ``{"message": ...}`` body
(botocore raises the modelled ``ThrottlingException``...); a mid-stream error is an exception
frame (``:message-type: exception``, ``:exception-type: throttlingException``...) whose payload
is ``{"message": ...}``. Every event payload carries a ``p`` field, letters and digits of varying
length that pad the event's size (AWS's mitigation of token-length side channels; aws-sdk-js-v3
#6919 shows them). Signatures (SigV4) are accepted without checking.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Iterator, Mapping
from typing import Any

from .. import eventstream
from ..script.events import HttpError, Script, Stall, Timed
from .base import Inspection, Item, RequestInfo

CONTENT_TYPE = "application/vnd.amazon.eventstream"
_PAD = string.ascii_lowercase + string.ascii_uppercase + string.digits
# HTTP errors: status -> modelled exception code, then by neutral kind
CODE_BY_STATUS = {
    400: "ValidationException", 403: "AccessDeniedException", 404: "ResourceNotFoundException",
    408: "ModelTimeoutException", 424: "ModelErrorException", 429: "ThrottlingException",
    500: "InternalServerException", 503: "ServiceUnavailableException",
}
CODE_BY_KIND = {
    "invalid_request": "ValidationException", "authentication": "UnrecognizedClientException",
    "permission": "AccessDeniedException", "not_found": "ResourceNotFoundException",
    "rate_limit": "ThrottlingException", "server_error": "InternalServerException",
    "unavailable": "ServiceUnavailableException", "overloaded": "ServiceUnavailableException",
}
# mid-stream error kind -> exception frame type (the stream unions' member names)
EXCEPTION_BY_KIND = {
    "invalid_request": "validationException", "rate_limit": "throttlingException",
    "server_error": "modelStreamErrorException", "unavailable": "serviceUnavailableException",
    "overloaded": "serviceUnavailableException",
}


def inspect_path(path_params: Mapping[str, str]) -> Inspection:
    """The model id (the scenario, unless a header names one) and whether the action streams."""
    model = path_params.get("modelId") or None
    return Inspection(model=model, stream=path_params.get("action", "").endswith("stream"))


def headers(req: RequestInfo) -> dict[str, str]:
    return {"x-amzn-RequestId": req.request_id}


def error(err: HttpError, req: RequestInfo) -> tuple[dict[str, Any], dict[str, str]]:
    code = CODE_BY_STATUS.get(err.status) or CODE_BY_KIND.get(err.kind, "InternalServerException")
    return {"message": err.message}, {
        **headers(req),
        "x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazon.bedrock/"}


def exception_frame(kind: str, message: str) -> bytes:
    type_ = EXCEPTION_BY_KIND.get(kind, "modelStreamErrorException")
    body: dict[str, Any] = {"message": message}
    if type_ == "modelStreamErrorException":
        body.update(originalMessage=message, originalStatusCode=500)
    return eventstream.exception(type_, compact(body))


def compact(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


class Padding:
    """Seeded ``p`` values: a prefix of ``a..zA..Z0..9`` of varying length."""

    def __init__(self, script: Script, req: RequestInfo) -> None:
        self.rng = random.Random(f"{script.seed}/{req.request_id}/p")

    def next(self) -> str:
        return _PAD[:self.rng.randint(1, len(_PAD))]


def event(type_: str, body: dict[str, Any], pad: Padding) -> bytes:
    """An event frame; the payload's keys in alphabetical order, as Bedrock sends them."""
    return eventstream.event(type_, compact(dict(sorted({**body, "p": pad.next()}.items()))))


def no_keepalive(timed: Timed) -> Item:
    """An event stream has no keep-alive: a stall stays silent."""
    ev = timed.event
    return Timed(timed.at, Stall(ev.seconds, None)) if isinstance(ev, Stall) else timed


def tool_use_id(call_id: str) -> str:
    return call_id if call_id.startswith("tooluse_") else "tooluse_" + call_id.removeprefix(
        "call_")


def control(items: Iterator[Item]) -> Iterator[Item]:
    """Pass control events through with their keep-alive dropped."""
    for item in items:
        yield no_keepalive(item) if isinstance(item, Timed) else item
