"""Acceptance: recordings contain no secret. Every credential header and ``key=`` parameter is
redacted before anything touches disk, and a key the upstream echoes back is scrubbed too; the
upstream itself still got the real credentials."""

from __future__ import annotations

import json
from pathlib import Path

from sselab import SimulatorThread
from sselab.record import RecordingProxyThread
from sselab.record.redact import REDACTED, Redactor

from .helpers import read, recording_of
from .upstreams import Answer, RawUpstream, request_json

KEY = "sk-live-SECRET-8d1f0c2e9a7b"
SECRETS = {
    "Authorization": f"Bearer {KEY}",
    "x-api-key": "sk-ant-SECRET-44c1e0aa",
    "api-key": "azure-SECRET-0b5e7f",
    "x-goog-api-key": "AIzaSECRET-goog-77",
    "Proxy-Authorization": "Basic cHJveHk6U0VDUkVULXByb3h5",
    "Cookie": "session=SECRET-cookie-5150",
}
QUERY_KEY = "AIzaSECRET-query-99"


def echo(request: bytes) -> Answer:
    """An upstream that echoes the request's headers in its body and sets a cookie."""
    head = request.partition(b"\r\n\r\n")[0].decode()
    body = json.dumps({"candidates": [{"content": {"parts": [{"text": head}]}}]}).encode()
    return Answer(chunked=False, pieces=[(0.0, b"data: " + body + b"\r\n\r\n")],
                  headers=[("Content-Type", "text/event-stream"),
                           ("Set-Cookie", "upstream_session=SECRET-set-cookie-6060; Path=/")])


def test_no_secret_reaches_the_recording(tmp_path: Path) -> None:
    path = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    with RawUpstream(echo) as upstream, \
            RecordingProxyThread(upstream.url, out=tmp_path) as proxy:
        live = read(proxy.url(f"{path}?alt=sse&key={QUERY_KEY}"), body, SECRETS)
        (recorded,) = proxy.wait_for(1)
    assert live.status == 200 and KEY.encode() in live.body, "the client got the echo"
    assert KEY.encode() in upstream.requests[0], "the upstream got the real credentials"
    text = "".join(p.read_text(encoding="utf-8") for p in tmp_path.rglob("*"))
    secrets = [KEY, QUERY_KEY, "SECRET-set-cookie-6060", "cHJveHk6U0VDUkVULXByb3h5",
               *(v.split()[-1].split("=")[-1] for v in SECRETS.values())]
    for secret in secrets:
        assert secret not in text, f"{secret} was written"
    assert "SECRET" not in text
    rec = recording_of(recorded)
    for name in SECRETS:
        assert f"{name}: {REDACTED}" in rec.request.headers
    assert rec.request.query == f"alt=sse&key={REDACTED}"
    assert "Set-Cookie: <redacted>" in rec.response.headers
    assert REDACTED.encode() in rec.response.body  # the echoed key, scrubbed from the piece
    with SimulatorThread(scenario_dirs=[tmp_path]) as sim:  # the redacted recording replays
        replay = read(sim.url(f"{path}?alt=sse&key=another-key"), body)
    assert replay.status == 200 and replay.body == rec.response.body
    assert "set-cookie" not in replay.headers, "a redacted header is not replayed"


def test_redactor_units() -> None:
    r = Redactor(["X-Custom-Token"])
    lines = r.header_lines([("Authorization", "Bearer abcdef123456"), ("X-Custom-Token", "tkn"),
                            ("Accept", "application/json")])
    assert lines == ["Authorization: <redacted>", "X-Custom-Token: <redacted>",
                     "Accept: application/json"]
    assert r.text("echo abcdef123456 back") == "echo <redacted> back"
    assert r.query("key=k1234567&alt=sse&api-key=z") == "key=<redacted>&alt=sse&api-key=<redacted>"
    assert r.url("https://user:pw@api.example.com:8443/v1?key=secret99") == \
        "https://api.example.com:8443/v1?key=<redacted>"
    assert r.json({"a": ["x abcdef123456"]}) == {"a": ["x <redacted>"]}


def test_request_body_secrets_are_scrubbed(tmp_path: Path) -> None:
    """A key that the client also puts in the body (some SDKs do) is scrubbed there too."""
    with RawUpstream(lambda req: Answer(pieces=[(0.0, b"data: {}\n\n")])) as upstream, \
            RecordingProxyThread(upstream.url, out=tmp_path) as proxy:
        read(proxy.url("/v1/chat/completions"),
             {"model": "m", "messages": [], "user": KEY}, {"Authorization": f"Bearer {KEY}"})
        (recorded,) = proxy.wait_for(1)
    assert request_json(upstream.requests[0])["user"] == KEY
    assert KEY not in recorded.read_text(encoding="utf-8")
    assert recording_of(recorded).request.body["user"] == REDACTED
