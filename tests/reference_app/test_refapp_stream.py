"""The backend over real sockets, with the simulator as the provider: what the browser gets."""

from __future__ import annotations

import pytest
from refapp_client import CJK_SPLIT, AppFactory, Chat, expected

from sselab import Simulator, compile_scenario
from sselab.script.events import TextDelta
from sselab_reference_app import AppServer


async def test_streaming_headers_and_event_order(sim: Simulator, app: AppServer,
                                                 chat: Chat) -> None:
    got = await chat(app)
    assert got.status == 200
    assert got.headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert got.headers["Cache-Control"] == "no-cache, no-transform"
    assert got.headers["X-Accel-Buffering"] == "no"
    assert got.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in got.headers and "Content-Encoding" not in got.headers
    assert got.types[0] == "start" and got.types[-1] == "done"
    assert set(got.types[1:-1]) == {"token"}
    answer_id = got.headers["X-Answer-Id"]
    assert got.last("start") == {"answer_id": answer_id, "model": "gpt-4o-mini"}
    assert got.last("done") == {"finish_reason": "stop", "answer_id": answer_id}
    assert got.text == expected(sim, "default")
    assert sim.last is not None and sim.last.outcome == "completed"
    # progressive: the tokens arrive spread like the provider sent them, not in one burst
    script = compile_scenario(sim.scenarios["default"])
    token_at = [t.at for t in script.events if isinstance(t.event, TextDelta)]
    arrivals = got.times("token")
    assert len(arrivals) == len(token_at)
    assert arrivals[-1] - arrivals[0] >= 0.6 * (token_at[-1] - token_at[0]), "one burst"


@pytest.mark.parametrize("scenario", ["split-one-byte", "split-utf8", "split-random",
                                      "cr-line-endings", "crlf-line-endings", "unicode",
                                      "missing-terminator", "cjk-split"])
async def test_relay_is_exact_across_chunk_boundaries(sim: Simulator, app: AppServer,
                                                      chat: Chat, scenario: str) -> None:
    sim.add_scenario(CJK_SPLIT)
    got = await chat(app, scenario)
    assert got.text == expected(sim, scenario)
    assert got.types[-1] == "done"
    stored = app.store.get(got.last("done")["answer_id"])
    assert stored is not None and stored.state == "completed" and stored.text == got.text


async def test_scenario_header_is_forwarded(sim: Simulator, app: AppServer, chat: Chat) -> None:
    got = await chat(app, headers={"X-Sselab-Scenario": "cr-line-endings"})
    assert sim.last is not None and sim.last.scenario == "cr-line-endings"
    assert got.text == expected(sim, "cr-line-endings")


async def test_default_model_comes_from_config(sim: Simulator, app_factory: AppFactory,
                                               chat: Chat) -> None:
    server = await app_factory(model="split-utf8")
    got = await chat(server)
    assert sim.last is not None and sim.last.model == "split-utf8"
    assert got.text == expected(sim, "split-utf8")
