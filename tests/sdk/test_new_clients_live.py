"""ollama (chat and generate), boto3 bedrock-runtime (converse_stream and
invoke_model_with_response_stream) and AzureOpenAI against the running simulator, every
built-in scenario (its pacing removed, faults kept): clean scenarios give exactly the text and
tool calls the openai chat SDK gives; each fault raises what the table in
docs/sdk-behaviour.md says."""

from __future__ import annotations

import pytest
from new_clients import CLIENTS, fast, run

from sselab import SimulatorThread, compile_scenario, load_all

NEW = [c for c in CLIENTS if c != "openai"]
HTTPX_READ = {"ollama": "httpx.ReadTimeout", "ollama-generate": "httpx.ReadTimeout",
              "bedrock-converse": "urllib3.ReadTimeoutError",
              "bedrock-invoke": "urllib3.ReadTimeoutError", "azure": "openai.APITimeoutError"}
BOTO = ("bedrock-converse", "bedrock-invoke")


def _same(ollama: str, boto: str, azure: str) -> dict[str, str]:
    return {"ollama": ollama, "ollama-generate": ollama, "bedrock-converse": boto,
            "bedrock-invoke": boto, "azure": azure}


def _http(code: str, azure: str) -> dict[str, str]:
    boto = f"botocore.{code} ({code})"
    return _same("ollama.ResponseError", boto, azure)


# scenario -> client -> outcome (the exception's module root and class); absent: "ok" and exact
FAULTS = {
    "corrupt-frame": _same("json.JSONDecodeError", "botocore.ChecksumMismatch",
                           "builtins.UnicodeDecodeError"),
    "drop-mid-stream": _same("httpx.RemoteProtocolError", "urllib3.ProtocolError",
                             "openai.APIConnectionError"),
    "reset-mid-stream": _same("httpx.ReadError", "urllib3.ProtocolError",
                              "openai.APIConnectionError"),
    # a resumable drop is an RST to these clients: none of them resumes
    **{name: _same("httpx.ReadError", "urllib3.ProtocolError", "openai.APIConnectionError")
       for name in ("drop-resumable", "resume-error", "resume-expired")},
    "http-429": _http("ThrottlingException", "openai.RateLimitError"),
    "http-500": _http("InternalServerException", "openai.InternalServerError"),
    "http-503": _http("ServiceUnavailableException", "openai.InternalServerError"),
    "http-529": _http("ServiceUnavailableException", "openai.InternalServerError"),
    "malformed-json": {**_same("json.JSONDecodeError", "json.JSONDecodeError",
                               "json.JSONDecodeError"),
                       "bedrock-converse": "ok"},  # botocore reads bad JSON as {"message": ...}
    "mid-stream-error": _same("ollama.ResponseError",
                              "botocore.EventStreamError (serviceUnavailableException)",
                              "openai.APIError"),
    "slow-first-token": HTTPX_READ,  # 5 s to the first token, read timeout 1 s
    "stall-forever": HTTPX_READ,
    # keep-alives every 1 s, read timeout 1.5 s: only the SSE clients see them (and wait until
    # the server's max_stall closes); Ollama and Bedrock send none
    "stall-keepalive": {**HTTPX_READ, "azure": "openai.APIConnectionError"},
}
TIMEOUT = {"stall-keepalive": 1.5}
SKIP = {"firehose"}  # 20,000 tokens: covered by the byte-level tests, too slow here


@pytest.fixture(scope="module")
def live(sim_factory):
    with sim_factory(max_stall=3.0) as sim:
        yield sim


@pytest.mark.parametrize("name", sorted(set(load_all()) - SKIP))
def test_every_builtin_scenario_through_the_new_clients(live: SimulatorThread, name: str):
    scenario = live.add_scenario(fast(live.scenarios[name]))
    timeout = TIMEOUT.get(name, 1.0)
    base_text, base_calls, base_out = run("openai", live.base_url, scenario.name, timeout)
    script = compile_scenario(scenario)
    for client in NEW:
        text, calls, out = run(client, live.base_url, scenario.name, timeout)
        want = FAULTS.get(name, {}).get(client, "ok")
        assert out == want, f"{name} via {client}: {out}"
        if name in FAULTS:
            assert script.text.startswith(text), f"{name} via {client}: not a prefix"
            continue
        assert base_out == "ok"
        if client == "ollama-generate" and script.tool_calls:  # /api/generate has no tools
            assert (text, calls) == (base_text, [])
            continue
        assert (text, calls) == (base_text, base_calls), f"{name} via {client}"
        if name == "content-filter":
            assert base_text == script.text and len(script.text) < 200
