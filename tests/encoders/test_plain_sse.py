"""Plain SSE encoder: exact bytes, the hot path, a spec SSE reader at every split, and a real
browser ``EventSource`` (Debian chromium through Playwright) on a live 127.0.0.1 server."""

from __future__ import annotations

import random
import shutil

import pytest
from _live_server import LiveFormat
from aiohttp import web
from anthropic._streaming import SSEDecoder  # a WHATWG-style decoder from a real SDK
from sdk_mock import ESCAPE_CASES, encode, make_script, random_splits

from sselab.encoders import formats
from sselab.encoders.base import Frame, RequestInfo
from sselab.encoders.plain_sse import FORMAT, stream_id
from sselab.encoders.sse_frame import sse_json
from sselab.script.events import (
    Close,
    ErrorEvent,
    Finish,
    HttpError,
    Malformed,
    Script,
    Stall,
    TextDelta,
    ThinkingDelta,
    Timed,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    Usage,
)

REQ = RequestInfo(request_id="req_test", format="plain_sse", model="m1")
TEXTS = ["Hé", "llo 日本", " 🎉\u2028\n"]
FULL = make_script(ThinkingDelta("hm"), *[TextDelta(t) for t in TEXTS],
                   ToolCallStart(0, "call_1", "weather"), ToolCallDelta(0, '{"city": "Zü'),
                   ToolCallDelta(0, 'rich"}'), ToolCallEnd(0), Usage(3, 9), Finish("tool_calls"))
CHROMIUM = shutil.which("chromium")


def _events(chunks: list[bytes]) -> list[tuple[str | None, object]]:
    return [(e.event, e.json()) for e in SSEDecoder().iter_bytes(iter(chunks))]


def test_registered_for_get_and_post():
    assert formats()["plain_sse"] is FORMAT
    assert FORMAT.routes == (("GET", "/sse"), ("POST", "/sse"))
    assert FORMAT.keepalive == b": keep-alive\n\n"


def test_exact_bytes_of_a_small_stream():
    script = make_script(TextDelta("Hi"), TextDelta(" é"), Usage(3, 2), Finish("stop"))
    sid = stream_id(script, REQ)
    assert sid == "sse-907f7c2139aa0740"
    assert encode("plain_sse", script, REQ) == (
        'event: start\ndata: {"id":"' + sid + '","model":"m1"}\n\n'
        'event: token\ndata: {"text":"Hi"}\n\n'
        'event: token\ndata: {"text":" é"}\n\n'
        'event: done\ndata: {"finish_reason":"stop","usage":{"input_tokens":3,'
        '"output_tokens":2}}\n\n').encode()


@pytest.mark.parametrize("text", [*ESCAPE_CASES, "}\n\ndata: x"])
def test_hot_path_is_byte_identical_to_the_generic_writer(text):
    frames = [i.data for i in FORMAT.stream(make_script(TextDelta(text), ThinkingDelta(text)),
                                            REQ) if isinstance(i, Frame)]
    assert frames[1] == sse_json({"text": text}, event="token")
    assert frames[2] == sse_json({"text": text}, event="thinking")


def test_every_event_in_order_with_tool_call_sent_whole():
    events = _events([encode("plain_sse", FULL, REQ)])
    assert events == [
        ("start", {"id": stream_id(FULL, REQ), "model": "m1"}), ("thinking", {"text": "hm"}),
        *[("token", {"text": t}) for t in TEXTS],
        ("tool_call", {"index": 0, "id": "call_1", "name": "weather",
                       "arguments": '{"city": "Zürich"}'}),
        ("done", {"finish_reason": "tool_calls", "usage": {"input_tokens": 3,
                                                           "output_tokens": 9}})]


def test_every_split_reads_the_same_events():
    body = encode("plain_sse", FULL, REQ)
    whole = _events([body])
    for cut in range(1, len(body)):
        assert _events([body[:cut], body[cut:]]) == whole, cut
    for seed in range(30):
        cuts = [0, *random_splits(len(body), seed, random.Random(seed).randint(2, 60)),
                len(body)]
        assert _events([body[a:b] for a, b in zip(cuts, cuts[1:], strict=False)]) == whole


def test_faults_and_control_events():
    stall, close = Stall(1.0, keepalive=0.2), Close()
    script = Script("t", [Timed(0.1, TextDelta("a")), Timed(0.2, stall), Timed(1.2, Malformed()),
                          Timed(1.3, close), Timed(1.4, ErrorEvent("busy", "overloaded")),
                          Timed(1.5, TextDelta("never"))], terminate=False)
    items = list(FORMAT.stream(script, REQ))
    assert [i.at for i in items] == [0.0, 0.1, 0.2, 1.2, 1.3, 1.4]
    assert items[2] is script.events[1] and items[4] is script.events[3]
    assert items[3].data == b'event: token\ndata: {"broken": \n\n'
    assert items[5].data == b'event: error\ndata: {"message":"busy","kind":"overloaded"}\n\n'
    no_done = encode("plain_sse", make_script(TextDelta("a"), Finish("stop"), terminate=False),
                     REQ)
    assert b"event: done" not in no_done


def test_inspect_model_from_body_or_query():
    assert FORMAT.inspect({"model": "a"}, {}, {"model": "b"}).model == "a"
    assert FORMAT.inspect({}, {}, {"model": "b", "scenario": "x"}).model == "b"
    assert FORMAT.inspect({}, {}, {}).stream is True
    with pytest.raises(ValueError, match="^model:"):
        FORMAT.inspect({"model": ["x"]}, {}, {})


def test_complete_and_error_bodies():
    body = FORMAT.complete(FULL, REQ)
    assert body["text"] == "".join(TEXTS) and body["tool_calls"][0]["name"] == "weather"
    assert body["finish_reason"] == "tool_calls"
    assert FORMAT.error(HttpError(503, "down", "unavailable", 1.0), REQ) == (
        {"error": {"message": "down", "kind": "unavailable"}}, {"retry-after": "1"})


# --- a real EventSource ---------------------------------------------------------------------
PAGE = """<!doctype html><script>
window.listen = (url) => new Promise((resolve) => {
  const got = [];
  const es = new EventSource(url);
  for (const name of ["start", "thinking", "token", "tool_call", "done"]) {
    es.addEventListener(name, (e) => {
      got.push([name, JSON.parse(e.data)]);
      if (name === "done") { es.close(); resolve(got); }
    });
  }
  es.addEventListener("error", (e) => {
    // sselab's `event: error` carries data; a dropped or ended connection does not
    got.push(["error", e.data === undefined ? {reconnecting: es.readyState === 0}
                                            : JSON.parse(e.data)]);
    es.close();
    resolve(got);
  });
});
</script>"""


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian chromium for a real EventSource")
async def test_browser_event_source(aiohttp_server):
    playwright = pytest.importorskip("playwright.async_api")
    live = LiveFormat("plain_sse", FULL, write_sizes=[1, 5, 13, 2])
    app = live.app()

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    app.router.add_get("/", page)
    server = await aiohttp_server(app)
    cases = {
        "full": FULL,
        "error": make_script(TextDelta("part"), ErrorEvent("busy", "overloaded")),
        "keepalive": make_script(TextDelta("a"), Stall(1.0, keepalive=0.5), TextDelta("b"),
                                 Finish("stop")),
        "close": make_script(TextDelta("part"), Close()),
        "no_done": make_script(TextDelta("part"), Finish("stop"), terminate=False),
    }
    got = {}
    async with playwright.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = await browser.new_page()
            await page.goto(str(server.make_url("/")))
            for name, script in cases.items():
                live.script = script
                got[name] = await page.evaluate(f"listen('/sse?scenario={name}')")
        finally:
            await browser.close()
    tokens = [d["text"] for n, d in got["full"] if n == "token"]
    assert tokens == TEXTS
    assert [n for n, _ in got["full"]] == ["start", "thinking", "token", "token", "token",
                                          "tool_call", "done"]
    assert got["error"] == [["start", got["error"][0][1]], ["token", {"text": "part"}],
                            ["error", {"message": "busy", "kind": "overloaded"}]]
    assert [d.get("text") for n, d in got["keepalive"] if n == "token"] == ["a", "b"]
    # a FIN mid-stream and a body that ends without `done` look the same to EventSource:
    # an error event without data, and the browser is about to reconnect
    for name in ("close", "no_done"):
        assert got[name][-2:] == [["token", {"text": "part"}], ["error", {"reconnecting": True}]]
    assert [r.query["scenario"] for r in live.requests] == list(cases)
    assert all(r.method == "GET" and r.model is None for r in live.requests)
