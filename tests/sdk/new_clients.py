"""The new formats' real clients (ollama, boto3 bedrock-runtime, AzureOpenAI) reading one
scenario from a running simulator: what each gives (text, tool-call arguments) and what it
raises. Shared by tests/sdk/test_new_clients_live.py and the table in docs/sdk-behaviour.md."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import boto3
import httpx
import ollama
import openai
from botocore.config import Config

from sselab.scenario.schema import Scenario, Timing
from sselab.shaping.stall import StallFault

CLIENTS = ("openai", "ollama", "ollama-generate", "bedrock-converse", "bedrock-invoke", "azure")


def fast(scenario: Scenario) -> Scenario:
    """The same text, tool calls and faults without the pacing (stalls shortened to 50 ms)."""
    faults = tuple(dataclasses.replace(f, ms=50.0) if isinstance(f, StallFault) and f.ms
                   else f for f in scenario.faults)
    return dataclasses.replace(scenario, name="fast-" + scenario.name, timing=Timing(),
                               faults=faults)


def outcome(exc: BaseException | None) -> str:
    if exc is None:
        return "ok"
    name = f"{type(exc).__module__.split('.')[0]}.{type(exc).__name__}"
    code = getattr(exc, "response", None)
    if isinstance(code, dict) and code.get("Error", {}).get("Code"):
        name += f" ({code['Error']['Code']})"
    return name


def run(client: str, base_url: str, name: str, timeout: float = 1.0) -> tuple[str, list, str]:
    """(text, tool-call arguments as JSON values, outcome) for one streamed request."""
    text, calls, raised = "", [], None
    try:
        for piece, call in _stream(client, base_url, name, timeout):
            text += piece
            if call is not None:
                calls.append(call)
    except Exception as exc:  # the outcome is what we observe
        raised = exc
    return text, calls, outcome(raised)


def _stream(client: str, base_url: str, name: str, timeout: float) -> Any:
    msgs = [{"role": "user", "content": "hi"}]
    if client in ("openai", "azure"):
        kw = dict(api_key="sk-test", max_retries=0, timeout=httpx.Timeout(timeout, connect=5.0))
        c = (openai.OpenAI(base_url=base_url + "/v1", **kw) if client == "openai" else
             openai.AzureOpenAI(azure_endpoint=base_url, api_version="2024-10-21", **kw))
        args: dict[int, str] = {}
        for chunk in c.chat.completions.create(model=name, messages=msgs, stream=True):
            for choice in chunk.choices:
                for tc in choice.delta.tool_calls or []:
                    args[tc.index] = args.get(tc.index, "") + (tc.function.arguments or "")
                yield choice.delta.content or "", None
        for i in sorted(args):
            yield "", json.loads(args[i])
    elif client.startswith("ollama"):
        c = ollama.Client(host=base_url, timeout=httpx.Timeout(timeout, connect=5.0))
        if client == "ollama-generate":
            for part in c.generate(model=name, prompt="hi", stream=True):
                yield part.response or "", None
            return
        for part in c.chat(model=name, messages=msgs, stream=True):
            yield part.message.content or "", None
            for call in part.message.tool_calls or []:
                yield "", dict(call.function.arguments)
    else:
        c = boto3.client("bedrock-runtime", endpoint_url=base_url, region_name="us-east-1",
                         aws_access_key_id="test", aws_secret_access_key="test",
                         config=Config(retries={"total_max_attempts": 1}, read_timeout=timeout,
                                       connect_timeout=5))
        if client == "bedrock-converse":
            resp = c.converse_stream(modelId=name, messages=[
                {"role": "user", "content": [{"text": "hi"}]}])
            args = {}
            for event in resp["stream"]:
                delta = event.get("contentBlockDelta", {}).get("delta", {})
                if "toolUse" in delta:
                    i = event["contentBlockDelta"]["contentBlockIndex"]
                    args[i] = args.get(i, "") + delta["toolUse"]["input"]
                yield delta.get("text", ""), None
            for i in sorted(args):
                yield "", json.loads(args[i])
            return
        resp = c.invoke_model_with_response_stream(modelId=name, body=json.dumps({
            "anthropic_version": "bedrock-2023-05-31", "max_tokens": 100, "messages": msgs}))
        args = {}
        for event in resp["body"]:
            obj = json.loads(event["chunk"]["bytes"])
            if obj["type"] == "content_block_delta":
                delta = obj["delta"]
                if delta["type"] == "input_json_delta":
                    args[obj["index"]] = args.get(obj["index"], "") + delta["partial_json"]
                yield delta.get("text", ""), None
        for i in sorted(args):
            yield "", json.loads(args[i])
