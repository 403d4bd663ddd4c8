"""Serve a wire encoder's bytes to a REAL SDK client, in memory (no sockets).

    script = make_script(TextDelta("Hi"), Finish("stop"))
    fake = FakeProvider("openai_chat", script, splits=[3, 40])
    client = openai.OpenAI(api_key="x", base_url="http://fake/v1", max_retries=0,
                           http_client=fake.client())  # or openai_client(fake)

``FakeProvider`` answers every request the way sselab's server would (``inspect`` the JSON body,
``error`` for ``script.http_error``, ``complete`` for non-streaming, ``stream`` otherwise) through
``MockTransport`` of ``httpx`` or ``httpx2`` (the ``http`` field: openai accepts both, anthropic
wants ``httpx2``, google-genai ``httpx``). The body is cut at ``splits`` (byte offsets) so the SDK
sees exactly those read boundaries. Control events: a Stall is skipped (no time passes), Close
ends the body with the transport's RemoteProtocolError, Reset with its ReadError (what a client
sees on a FIN or RST mid-body). ``requests`` records what each request asked for.
"""

from __future__ import annotations

import functools
import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

import httpx

from sselab.encoders import formats
from sselab.encoders.base import Frame, RequestInfo
from sselab.script.events import (
    Close,
    Event,
    Finish,
    Reset,
    Script,
    TextDelta,
    ThinkingDelta,
    Timed,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    Usage,
)

if TYPE_CHECKING:
    import openai

BASE_CREATED = 1_700_000_000
# strings that test a hot path's JSON escaping: quotes, backslashes, control characters,
# multi-byte UTF-8, the JS line separators, nothing; each format's test adds a string that would
# end its own frame early if it were not escaped
ESCAPE_CASES = ["plain", 'quo"te \\ back', "ctl \x00\x1f\t\r\n", "é日本🎉", "\u2028\u2029\x85", ""]


def make_script(*events: Event, step: float = 0.01, **fields: Any) -> Script:
    """A Script with ``events`` due every ``step`` seconds; text, tool calls, finish reason and
    token counts are derived from the events unless given in ``fields``."""
    timed = [Timed(round(i * step, 6), ev) for i, ev in enumerate(events)]
    calls: dict[int, list[str]] = {}
    derived: dict[str, Any] = {"text": "", "thinking": "", "finish_reason": "stop"}
    for ev in events:
        if isinstance(ev, TextDelta):
            derived["text"] += ev.text
        elif isinstance(ev, ThinkingDelta):
            derived["thinking"] += ev.text
        elif isinstance(ev, ToolCallStart):
            calls[ev.index] = [ev.call_id, ev.name, ""]
        elif isinstance(ev, ToolCallDelta):
            calls[ev.index][2] += ev.arguments
        elif isinstance(ev, Finish):
            derived["finish_reason"] = ev.reason
        elif isinstance(ev, Usage):
            derived["input_tokens"], derived["output_tokens"] = ev.input_tokens, ev.output_tokens
    derived["tool_calls"] = [ToolCall(*calls[i]) for i in sorted(calls)]
    derived.update(fields)
    return Script(scenario=derived.pop("scenario", "test"), events=timed, **derived)


def encode(format_name: str, script: Script, req: RequestInfo) -> bytes:
    """The stream body as bytes (control events ignored)."""
    return b"".join(i.data for i in formats()[format_name].stream(script, req)
                    if isinstance(i, Frame))


def random_splits(length: int, seed: int, count: int = 8) -> list[int]:
    return sorted(random.Random(seed).sample(range(1, length), min(count, length - 1)))


def boundary_offsets(body: bytes, radius: int = 3) -> list[int]:
    """Split points near every line break and inside/around every multi-byte UTF-8 sequence:
    where an SSE decoder can go wrong, for streams too long to split at every offset."""
    marks = [i for i, b in enumerate(body) if b == 0x0A or b >= 0x80]
    return sorted({j for i in marks for j in range(i - radius, i + radius + 2)
                   if 0 < j < len(body)})


def _route_regex(pattern: str) -> re.Pattern[str]:
    out, pos = "", 0
    for m in re.finditer(r"\{(\w+)(?::([^}]*))?\}", pattern):
        out += re.escape(pattern[pos:m.start()]) + f"(?P<{m[1]}>{m[2] or '[^/]+?'})"
        pos = m.end()
    return re.compile(out + re.escape(pattern[pos:]))


@functools.cache
def _byte_stream_class(http: ModuleType) -> type:
    class ChunkStream(http.SyncByteStream, http.AsyncByteStream):  # type: ignore[name-defined,misc]
        def __init__(self, chunks: list[bytes], end: BaseException | None) -> None:
            self.chunks, self.end = chunks, end

        def __iter__(self):  # type: ignore[no-untyped-def]
            yield from self.chunks
            if self.end is not None:
                raise self.end

        async def __aiter__(self):  # type: ignore[no-untyped-def]
            for chunk in self.chunks:
                yield chunk
            if self.end is not None:
                raise self.end

    return ChunkStream


@dataclass
class FakeProvider:
    format: str
    scripts: Script | Sequence[Script]
    splits: Sequence[int] | None = None  # byte offsets where the body is cut into reads
    http: ModuleType = httpx
    request_id: str = "req_test"
    requests: list[RequestInfo] = field(default_factory=list)

    def client(self, **kw: Any) -> Any:
        return self.http.Client(transport=self.http.MockTransport(self.handle), **kw)

    def async_client(self, **kw: Any) -> Any:
        return self.http.AsyncClient(transport=self.http.MockTransport(self.handle), **kw)

    def handle(self, request: Any) -> Any:
        fmt = formats()[self.format]
        body = json.loads(request.content or b"{}")
        query = dict(request.url.params)
        params: dict[str, str] = {}
        for method, route in fmt.routes:
            m = _route_regex(route).fullmatch(request.url.path)
            if m and method == request.method:
                params = m.groupdict()
                break
        else:
            return self.http.Response(404, json={"error": f"no route {request.url.path}"})
        seen = fmt.inspect(body, params, query)
        scripts = [self.scripts] if isinstance(self.scripts, Script) else list(self.scripts)
        script = scripts[min(len(self.requests), len(scripts) - 1)]
        req = RequestInfo(
            request_id=f"{self.request_id}{len(self.requests) or ''}", format=self.format,
            method=request.method, path=request.url.path, model=seen.model, stream=seen.stream,
            body=body, query=query, headers=dict(request.headers), path_params=params,
            created=BASE_CREATED)
        self.requests.append(req)
        headers = fmt.headers(req)
        if script.http_error is not None:
            err_body, err_headers = fmt.error(script.http_error, req)
            return self.http.Response(script.http_error.status, json=err_body,
                                      headers={**headers, **err_headers})
        if not seen.stream:
            return self.http.Response(200, json=fmt.complete(script, req), headers=headers)
        data, end = b"", None
        for item in fmt.stream(script, req):
            if isinstance(item, Frame):
                data += item.data
            elif isinstance(item.event, Close):
                end = self.http.RemoteProtocolError("peer closed connection (sselab Close)")
                break
            elif isinstance(item.event, Reset):
                end = self.http.ReadError("connection reset by peer (sselab Reset)")
                break
        cuts = [0, *sorted(s for s in (self.splits or ()) if 0 < s < len(data)), len(data)]
        chunks = [data[a:b] for a, b in zip(cuts, cuts[1:], strict=False) if b > a]
        return self.http.Response(
            200, headers={**headers, "content-type": fmt.content_type},
            stream=_byte_stream_class(self.http)(chunks, end))


def openai_client(fake: FakeProvider, **kw: Any) -> openai.OpenAI:
    """An openai client whose requests ``fake`` answers (no retries)."""
    import openai  # here, not at the top: the other formats' tests need not load it

    return openai.OpenAI(api_key="sk-test", base_url="http://fake/v1", max_retries=0,
                         http_client=fake.client(), **kw)


def async_openai_client(fake: FakeProvider, **kw: Any) -> openai.AsyncOpenAI:
    """The async twin of :func:`openai_client`."""
    import openai

    return openai.AsyncOpenAI(api_key="sk-test", base_url="http://fake/v1", max_retries=0,
                              http_client=fake.async_client(), **kw)
