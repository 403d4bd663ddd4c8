"""What the new formats serve besides streams, through the real clients: Ollama's model
look-ups and ``stream: false``, Bedrock's non-streaming Converse and InvokeModel, and Azure's
content-filter annotations."""

from __future__ import annotations

import json

import boto3
import httpx
import ollama
import pytest
from botocore.config import Config

from sselab import SimulatorThread, compile_scenario


@pytest.fixture(scope="module")
def live(sim_factory):
    with sim_factory() as sim:
        yield sim


def _text(sim: SimulatorThread, name: str) -> str:
    return compile_scenario(sim.scenarios[name]).text


def test_ollama_lists_scenarios_as_models_and_answers_without_streaming(live) -> None:
    client = ollama.Client(host=live.base_url)
    names = {m.model for m in client.list().models}
    assert {"default", "mid-stream-error", "tool-call"} <= {n.split(":")[0] for n in names}
    shown = client.show("default")
    assert shown.modelfile is not None or shown.details is not None
    reply = client.chat(model="default", messages=[{"role": "user", "content": "hi"}],
                        stream=False)
    assert reply.done and reply.message.content == _text(live, "default")
    assert reply.done_reason == "stop"


def _bedrock(sim: SimulatorThread):
    return boto3.client("bedrock-runtime", endpoint_url=sim.base_url, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test",
                        config=Config(retries={"total_max_attempts": 1}))


def test_bedrock_converse_and_invoke_model(live) -> None:
    client = _bedrock(live)
    out = client.converse(modelId="default", messages=[
        {"role": "user", "content": [{"text": "hi"}]}])
    assert out["output"]["message"]["content"][0]["text"] == _text(live, "default")
    assert out["stopReason"] == "end_turn"
    resp = client.invoke_model(modelId="default", body=json.dumps({
        "anthropic_version": "bedrock-2023-05-31", "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}]}))
    body = json.loads(resp["body"].read())
    assert body["content"][0]["text"] == _text(live, "default")


def test_bedrock_http_error_is_the_modelled_exception(live) -> None:
    client = _bedrock(live)
    with pytest.raises(client.exceptions.ThrottlingException):
        client.converse(modelId="http-429", messages=[
            {"role": "user", "content": [{"text": "hi"}]}])


def test_azure_sends_prompt_filter_results_first_and_content_filter_results(live) -> None:
    url = (f"{live.base_url}/openai/deployments/default/chat/completions"
           "?api-version=2024-10-21")
    with httpx.stream("POST", url, json={"messages": [{"role": "user", "content": "hi"}],
                                         "stream": True}, timeout=10) as r:
        chunks = [json.loads(line[6:]) for line in r.iter_lines()
                  if line.startswith("data: {")]
    assert chunks[0]["choices"] == [] and chunks[0]["prompt_filter_results"]
    assert any("content_filter_results" in c for ch in chunks[1:] for c in ch["choices"])
