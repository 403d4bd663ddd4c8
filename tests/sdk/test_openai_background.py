"""The real openai SDK against Responses background mode: create a background stream, read
part of it, drop the connection, resume with ``retrieve(id, stream=True, starting_after=N)``;
poll a background response through its statuses; cancel one and see generation stop."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from sselab import SimulatorThread, compile_scenario

SCENARIO = """
name: background
response: {text: "one two three four five six seven eight nine ten eleven twelve thirteen"}
timing: {ttft_ms: 150, token_ms: 40}
"""
DROPPED = SCENARIO.replace("name: background", "name: background-drop") + (
    "faults:\n  - {type: drop, at_token: 5, resumable: true}\n")


@pytest.fixture
def sim() -> SimulatorThread:
    with SimulatorThread() as s:
        s.add_scenario(SCENARIO)
        s.add_scenario(DROPPED)
        yield s


@pytest.fixture
def client(sim: SimulatorThread) -> openai.OpenAI:
    return openai.OpenAI(base_url=sim.base_url + "/v1", api_key="sk-test", max_retries=0)


def _text(sim: SimulatorThread, name: str) -> str:
    return compile_scenario(sim.scenarios[name]).text


def test_read_part_drop_and_resume_starting_after(sim: SimulatorThread,
                                                  client: openai.OpenAI) -> None:
    seqs: list[int] = []
    text, response_id = "", ""
    stream = client.responses.create(model="background", input="hi", background=True,
                                     stream=True)
    for event in stream:
        seqs.append(event.sequence_number)
        if event.type == "response.created":
            response_id = event.response.id
            assert (event.response.status, event.response.background) == ("queued", True)
        elif event.type == "response.output_text.delta":
            text += event.delta
        if text.count(" ") >= 3:
            break
    stream.close()  # the client drops the connection mid-stream
    time.sleep(0.2)  # the response goes on generating meanwhile
    resumed = client.responses.retrieve(response_id, stream=True, starting_after=seqs[-1])
    final = None
    for event in resumed:
        seqs.append(event.sequence_number)
        if event.type == "response.output_text.delta":
            text += event.delta
        final = event
    assert text == _text(sim, "background")
    assert seqs == list(range(len(seqs)))  # no sequence number repeated or skipped
    assert final is not None and final.type == "response.completed"
    assert final.response.output_text == text
    first, again = sim.requests
    assert again.resumes == first.id and again.replayed_events > 0
    assert first.outcome == "client_disconnected" and again.outcome == "completed"


def test_a_resumable_drop_resumes_with_the_sdk(sim: SimulatorThread,
                                               client: openai.OpenAI) -> None:
    text, last, response_id = "", -1, ""
    with pytest.raises(openai.APIConnectionError):
        for event in client.responses.create(model="background-drop", input="hi",
                                             background=True, stream=True):
            last = event.sequence_number
            response_id = getattr(getattr(event, "response", None), "id", response_id)
            if event.type == "response.output_text.delta":
                text += event.delta
    for event in client.responses.retrieve(response_id, stream=True, starting_after=last):
        assert event.sequence_number > last
        last = event.sequence_number
        if event.type == "response.output_text.delta":
            text += event.delta
    assert text == _text(sim, "background-drop")
    assert sim.requests[0].outcome == "fault_reset"


def test_the_stream_helper_resumes_too(sim: SimulatorThread, client: openai.OpenAI) -> None:
    created = client.responses.create(model="background", input="hi", background=True)
    with client.responses.stream(response_id=created.id, starting_after=6) as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert final.output_text == _text(sim, "background")
    assert "".join(deltas) and final.output_text.endswith("".join(deltas))


def test_polling_goes_queued_in_progress_completed(sim: SimulatorThread,
                                                   client: openai.OpenAI) -> None:
    created = client.responses.create(model="background", input="hi", background=True)
    assert (created.status, created.background, created.output) == ("queued", True, [])
    statuses, partial = [created.status], ""
    deadline = time.monotonic() + 10
    response = created
    while response.status in ("queued", "in_progress") and time.monotonic() < deadline:
        time.sleep(0.03)
        response = client.responses.retrieve(created.id)
        statuses.append(response.status)
        if response.status == "in_progress" and response.output_text:
            partial = response.output_text
    assert response.status == "completed" and response.output_text == _text(sim, "background")
    assert "in_progress" in statuses and statuses[0] == "queued"
    assert partial and response.output_text.startswith(partial)  # the output so far
    assert sim.requests[0].outcome == "completed" and sim.requests[0].stream is False


def test_cancel_stops_generation_and_ends_the_attached_stream(
        sim: SimulatorThread, client: openai.OpenAI) -> None:
    stream = client.responses.create(model="background", input="hi", background=True,
                                     stream=True)
    text, response_id = "", ""
    for event in stream:
        if event.type == "response.created":
            response_id = event.response.id
        if event.type == "response.output_text.delta":
            text += event.delta
            if text.count(" ") == 2:
                cancelled = client.responses.cancel(response_id)
    assert cancelled.status == "cancelled" and cancelled.output_text.startswith(text[:3])
    live = httpx.get(sim.url("/_sselab/live")).json()["live"][0]
    time.sleep(0.3)
    later = httpx.get(sim.url("/_sselab/live")).json()["live"][0]
    assert live["state"] == later["state"] == "cancelled"
    assert later["events_generated"] == live["events_generated"]  # nothing generated since
    assert len(text) < len(_text(sim, "background"))
    assert client.responses.retrieve(response_id).status == "cancelled"
    assert client.responses.cancel(response_id).status == "cancelled"  # idempotent
    first = sim.requests[0]
    assert first.outcome == "cancelled"  # the attached stream ended at the cancel
    cancel = next(r for r in sim.requests if r.path.endswith("/cancel"))
    assert cancel.resumes == first.id and first.ended <= cancel.ended + 0.2


def test_errors_as_the_api_answers_them(sim: SimulatorThread, client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError, match="Response with id 'resp_nope' not found"):
        client.responses.retrieve("resp_nope")
    done = client.responses.create(model="background", input="hi", background=True)
    time.sleep(0.8)
    with pytest.raises(openai.BadRequestError, match="status 'completed'"):
        client.responses.cancel(done.id)
    bad = httpx.get(sim.url(f"/v1/responses/{done.id}?stream=true&starting_after=x"))
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "starting_after"
    plain = client.responses.create(model="background", input="hi", stream=True)
    response_id = next(iter(plain)).response.id
    plain.close()
    with pytest.raises(openai.NotFoundError):  # only background responses are kept
        client.responses.retrieve(response_id)
