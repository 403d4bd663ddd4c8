"""The control API (/_sselab/*) refuses what a web page could send: another Host (DNS
rebinding), another Origin, a non-JSON state change; an opt-in token; provider routes keep
permissive CORS."""

from __future__ import annotations

import httpx
import pytest

from sselab import Simulator
from sselab.server.guard import ControlGuard, bind_warning, host_name

CHAT = "/v1/chat/completions"
BODY = {"model": "gpt-4o", "stream": False, "messages": [{"role": "user", "content": "hi"}]}
EVIL = "http://evil.example"


async def _one_request(c: httpx.AsyncClient, sim: Simulator) -> None:
    r = await c.post(sim.url(CHAT), json=BODY)
    assert r.status_code == 200


async def test_no_cors_headers_on_the_control_api_but_on_provider_routes(sim: Simulator) -> None:
    async with httpx.AsyncClient() as c:
        provider = await c.post(sim.url(CHAT), json=BODY, headers={"Origin": EVIL})
        control = await c.get(sim.url("/_sselab/requests"))
        plain = await c.get(sim.url("/_sselab/health"))
    assert provider.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-origin" not in control.headers
    assert "access-control-allow-origin" not in plain.headers


async def test_a_cross_origin_read_of_the_timeline_is_refused(sim: Simulator) -> None:
    async with httpx.AsyncClient() as c:
        await _one_request(c, sim)
        r = await c.get(sim.url("/_sselab/requests"), headers={"Origin": EVIL})
    assert r.status_code == 403 and "cross-origin" in r.json()["error"]
    assert "access-control-allow-origin" not in r.headers
    assert "requests" not in r.json()


async def test_same_origin_pages_may_use_it(sim: Simulator) -> None:
    host = sim.base_url.removeprefix("http://")
    async with httpx.AsyncClient() as c:
        r = await c.get(sim.url("/_sselab/requests"), headers={"Origin": f"http://{host}"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == f"http://{host}"


async def test_preflights_for_the_control_api_are_refused_for_provider_routes_allowed(
        sim: Simulator) -> None:
    pre = {"Origin": EVIL, "Access-Control-Request-Method": "PUT",
           "Access-Control-Request-Headers": "content-type"}
    async with httpx.AsyncClient() as c:
        control = await c.options(sim.url("/_sselab/default-scenario"), headers=pre)
        provider = await c.options(sim.url(CHAT), headers={
            **pre, "Access-Control-Request-Method": "POST"})
    assert control.status_code == 403
    assert not any(k.startswith("access-control-allow") for k in control.headers)
    assert provider.status_code == 204
    assert provider.headers["access-control-allow-origin"] == "*"
    assert "POST" in provider.headers["access-control-allow-methods"]
    assert "PUT" not in provider.headers["access-control-allow-methods"]


@pytest.mark.parametrize("headers,content", [
    ({"Content-Type": "text/plain"}, b"{}"),  # what a page may send without a preflight
    ({"Content-Type": "application/x-www-form-urlencoded"}, b"a=1"),
    ({}, None),  # fetch(url, {method: "POST"}) with no body has no Content-Type
])
async def test_reset_needs_a_json_content_type(sim: Simulator, headers: dict,
                                               content: bytes | None) -> None:
    async with httpx.AsyncClient() as c:
        await _one_request(c, sim)
        r = await c.post(sim.url("/_sselab/reset"), headers=headers, content=content)
    assert r.status_code == 415
    assert "application/json" in r.json()["error"]
    assert sim.call_count == 1  # not reset


async def test_reset_with_json_works(sim: Simulator) -> None:
    async with httpx.AsyncClient() as c:
        await _one_request(c, sim)
        r = await c.post(sim.url("/_sselab/reset"), json={})
        bare = await c.post(sim.url("/_sselab/reset"),
                            headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and bare.status_code == 200 and sim.call_count == 0


async def test_switching_the_default_scenario_needs_json(sim: Simulator) -> None:
    async with httpx.AsyncClient() as c:
        r = await c.put(sim.url("/_sselab/default-scenario"),
                        content=b'{"scenario": "stall-forever"}',
                        headers={"Content-Type": "text/plain;charset=UTF-8"})
        assert sim._state is not None and sim._state.default_scenario == "default"
        ok = await c.put(sim.url("/_sselab/default-scenario"), json={"scenario": "unicode"})
    assert r.status_code == 415
    assert ok.status_code == 200 and sim._state.default_scenario == "unicode"


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8787", "127.0.0.1.nip.io",
                                  "localhost.evil.example"])
async def test_another_host_header_is_refused_naming_the_allowed_ones(sim: Simulator,
                                                                     host: str) -> None:
    async with httpx.AsyncClient() as c:
        await _one_request(c, sim)
        for method, path, kw in [("GET", "/_sselab/requests", {}),
                                 ("POST", "/_sselab/reset", {"json": {}})]:
            r = await c.request(method, sim.url(path), headers={"Host": host}, **kw)
            assert r.status_code == 403, (method, path)
            message = r.json()["error"]
            assert repr(host) in message and "localhost" in message and "127.0.0.1" in message
        provider = await c.post(sim.url(CHAT), json=BODY, headers={"Host": host})
    assert provider.status_code == 200  # provider routes do not care
    assert sim.call_count == 2


@pytest.mark.parametrize("host", ["localhost:8787", "127.0.0.1:1", "[::1]:9", "LOCALHOST",
                                  "app.localhost:3000", "10.1.2.3:8787", "127.0.0.1"])
async def test_this_machines_names_are_allowed_any_port(sim: Simulator, host: str) -> None:
    async with httpx.AsyncClient() as c:
        r = await c.get(sim.url("/_sselab/health"), headers={"Host": host})
    assert r.status_code == 200


def test_a_missing_host_is_refused_and_names_parse() -> None:
    guard = ControlGuard()
    assert not guard.host_allowed(None) and not guard.host_allowed("")
    assert host_name("[::1]:8787") == "::1" and host_name("Example.COM.:80") == "example.com"
    assert ControlGuard.make("127.0.0.1", [".corp.example"]).host_allowed("a.corp.example:1")
    assert not ControlGuard.make("127.0.0.1", [".corp.example"]).host_allowed("corp.evil")
    assert ControlGuard.make("127.0.0.1", ["*"]).host_allowed("anything")


async def test_allowed_hosts_add_names() -> None:
    async with Simulator(allowed_hosts=["sselab", "sim.test:1234"]) as sim, \
            httpx.AsyncClient() as c:
        ok = await c.get(sim.url("/_sselab/health"), headers={"Host": "sselab:8787"})
        ok2 = await c.get(sim.url("/_sselab/health"), headers={"Host": "sim.test"})
        bad = await c.get(sim.url("/_sselab/health"), headers={"Host": "other"})
    assert (ok.status_code, ok2.status_code, bad.status_code) == (200, 200, 403)
    assert "sselab" in bad.json()["error"]


async def test_the_token_is_required_when_set() -> None:
    async with Simulator(control_token="s3cret") as sim, httpx.AsyncClient() as c:
        none = await c.get(sim.url("/_sselab/requests"))
        wrong = await c.get(sim.url("/_sselab/requests"),
                            headers={"Authorization": "Bearer nope"})
        bearer = await c.get(sim.url("/_sselab/requests"),
                             headers={"Authorization": "Bearer s3cret"})
        header = await c.post(sim.url("/_sselab/reset"), json={},
                              headers={"X-Sselab-Token": "s3cret"})
        # with a token, any Host may be used (a page cannot know the token)
        far = await c.get(sim.url("/_sselab/health"),
                          headers={"X-Sselab-Token": "s3cret", "Host": "sselab:8787"})
        provider = await c.post(sim.url(CHAT), json=BODY)  # no token needed
    assert none.status_code == 401 and wrong.status_code == 401
    assert "Bearer" in none.json()["error"]
    assert bearer.status_code == 200 and header.status_code == 200 and far.status_code == 200
    assert provider.status_code == 200


def test_serving_beyond_loopback_without_a_token_warns() -> None:
    assert bind_warning("127.0.0.1", None) is None
    assert bind_warning("localhost", None) is None
    assert bind_warning("::1", None) is None
    assert bind_warning("0.0.0.0", "tok") is None
    warning = bind_warning("0.0.0.0", None)
    assert warning is not None and "--control-token" in warning
    assert bind_warning("192.168.1.5", None) is not None


async def test_the_toxiproxy_api_checks_the_host_too() -> None:
    from sselab.toxiproxy import ToxiproxyServer

    async with ToxiproxyServer() as server, httpx.AsyncClient() as c:
        ok = await c.get(server.api_url + "/proxies")
        bad = await c.get(server.api_url + "/proxies", headers={"Host": "evil.example"})
        reset = await c.post(server.api_url + "/reset", headers={"Host": "evil.example:8474"})
    assert ok.status_code == 200 and "access-control-allow-origin" not in ok.headers
    assert bad.status_code == 403 and bad.json()["status"] == 403
    assert "evil.example" in bad.json()["error"] and reset.status_code == 403


def test_serve_takes_the_token_from_the_command_line_or_the_environment() -> None:
    import os
    import signal
    import subprocess
    import sys

    for args, env in [(["--control-token", "tok1"], {}), ([], {"SSELAB_CONTROL_TOKEN": "tok1"})]:
        proc = subprocess.Popen([sys.executable, "-m", "sselab", "serve", "--port", "0", "-q",
                                 *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env={**os.environ, **env})
        try:
            assert proc.stdout is not None
            base = proc.stdout.readline().rsplit(" ", 1)[1].strip()
            without = httpx.get(base + "/_sselab/health", timeout=5)
            with_token = httpx.get(base + "/_sselab/health", timeout=5,
                                   headers={"Authorization": "Bearer tok1"})
        finally:
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=20)
        assert (without.status_code, with_token.status_code) == (401, 200), args
        assert "warning" not in err and "Traceback" not in err
