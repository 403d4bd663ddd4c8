"""Azure OpenAI Responses API: ``POST /openai/v1/responses`` and ``POST /openai/responses
?api-version=...`` (where ``AzureOpenAI`` sends ``responses.create``).

The events are OpenAI's (``openai_responses.py``, including the nested mid-stream ``error``
event); Azure adds its request headers (``apim-request-id``, ``x-ms-region``) and its error
bodies (``azure_openai.py``). ``model`` names the deployment, which picks the scenario.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..script.events import Script
from ._params import check_responses
from .azure_openai import azure_error, azure_headers, inspect_azure
from .base import Inspection, Item, RequestInfo, WireFormat, register
from .openai_responses import OPENAI_RESPONSES


def _stream(script: Script, req: RequestInfo) -> Iterator[Item]:
    return OPENAI_RESPONSES.stream(script, req)


def _inspect(body: dict[str, Any], path_params: Mapping[str, str],
             query: Mapping[str, str]) -> Inspection:
    return inspect_azure(body, path_params, query, check_responses)


FORMAT = register(WireFormat(
    name="azure_responses",
    description="Azure OpenAI Responses API: OpenAI's response.* events on Azure's paths",
    routes=(("POST", "/openai/v1/responses"), ("POST", "/openai/responses")),
    inspect=_inspect,
    stream=_stream,
    complete=OPENAI_RESPONSES.complete,
    error=azure_error,
    headers=azure_headers,
    content_type="text/event-stream; charset=utf-8",
))

__all__ = ["FORMAT"]
