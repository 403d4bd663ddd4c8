"""Conformance of the HTTP API: every route, status code, JSON shape and error body.

Driven through toxiproxy-python, plus raw HTTP (``api``) where the client has no call or hides
the status. Runs against the embedded server and, when one is available, a real Toxiproxy.
"""

from __future__ import annotations

import socket

import pytest
import toxiproxy.exceptions as txe

PROXY_KEYS = {"name", "listen", "upstream", "enabled", "toxics"}
DEFAULT_ATTRIBUTES = {
    "latency": {"latency": 0, "jitter": 0},
    "bandwidth": {"rate": 0},
    "slow_close": {"delay": 0},
    "timeout": {"timeout": 0},
    "reset_peer": {"timeout": 0},
    "slicer": {"average_size": 0, "size_variation": 0, "delay": 0},
    "limit_data": {"bytes": 0},
}


@pytest.fixture
def healthy(tp, upstreams, connect, net):
    """A proxy that must still carry traffic after the test's bad input."""
    proxy = tp.create(upstream=upstreams.start(), name="healthy")
    s = connect(proxy)
    net.rtt(s)
    yield
    assert tp.version()
    net.rtt(s)  # the live connection survived
    net.rtt(connect(proxy))  # and the proxy still accepts


def _port(listen: str) -> int:
    return int(listen.rsplit(":", 1)[1])


def test_version(tp, api):
    assert tp.version()
    resp = api.get("/version")
    assert resp.status_code == 200
    assert isinstance(resp.json()["version"], str)


def test_create_reports_bound_address_and_shape(tp, api, upstreams):
    up = upstreams.start()
    proxy = tp.create(upstream=up, name="one", listen="127.0.0.1:0")
    assert proxy.listen.startswith("127.0.0.1:") and _port(proxy.listen) > 0
    assert proxy.enabled is True and proxy.upstream == up
    body = api.get("/proxies/one").json()
    assert set(body) == PROXY_KEYS
    assert body == {"name": "one", "listen": proxy.listen, "upstream": up, "enabled": True,
                    "toxics": []}
    assert set(tp.proxies()) == {"one"}
    assert set(api.get("/proxies").json()) == {"one"}


def test_create_returns_201_and_disabled_proxy_keeps_its_listen(api, upstreams):
    resp = api.post("/proxies", json={"name": "d", "upstream": upstreams.start(),
                                      "listen": "127.0.0.1:0", "enabled": False})
    assert resp.status_code == 201
    assert resp.json()["enabled"] is False and resp.json()["listen"] == "127.0.0.1:0"


def test_duplicate_proxy_409(tp, api, upstreams, healthy):
    tp.create(upstream=upstreams.start(), name="dup")
    resp = api.post("/proxies", json={"name": "dup", "upstream": "127.0.0.1:1",
                                      "listen": "127.0.0.1:0"})
    assert resp.status_code == 409
    assert resp.json() == {"error": "proxy already exists", "status": 409}
    with pytest.raises(txe.ProxyExists):
        tp.create(upstream="127.0.0.1:1", name="dup")


@pytest.mark.parametrize("missing", ["name", "upstream"])
def test_missing_field_400(api, missing, healthy):
    body = {"name": "x", "upstream": "127.0.0.1:1", "listen": "127.0.0.1:0"}
    del body[missing]
    resp = api.post("/proxies", json=body)
    assert resp.status_code == 400
    assert resp.json() == {"error": f"missing required field: {missing}", "status": 400}


@pytest.mark.parametrize("path", ["/proxies", "/populate", "/proxies/healthy",
                                  "/proxies/healthy/toxics"])
@pytest.mark.parametrize("body", [b"{not json", b""])
def test_bad_json_400(api, path, body, healthy):
    resp = api.post(path, content=body, headers={"Content-Type": "application/json"})
    assert resp.status_code == 400
    err = resp.json()
    assert err["status"] == 400 and err["error"].startswith("bad request body")


def test_wrong_field_type_400(api, healthy):
    resp = api.post("/proxies", json={"name": 5, "upstream": "127.0.0.1:1"})
    assert resp.status_code == 400
    assert resp.json()["error"].startswith("bad request body")


def test_unknown_proxy_404(tp, api):
    assert tp.get_proxy("nope") is None
    for method in ("GET", "POST", "PATCH", "DELETE"):
        resp = api.request(method, "/proxies/nope", json={})
        assert resp.status_code == 404, method
        assert resp.json() == {"error": "proxy not found", "status": 404}
    for method, path in [("GET", "/proxies/nope/toxics"), ("POST", "/proxies/nope/toxics"),
                         ("GET", "/proxies/nope/toxics/t"), ("DELETE", "/proxies/nope/toxics/t")]:
        resp = api.request(method, path, json={"type": "latency"})
        assert resp.status_code == 404, (method, path)
        assert resp.json()["error"] == "proxy not found"


def test_disable_closes_connections_and_stops_listening(tp, api, upstreams, connect, net):
    proxy = tp.create(upstream=upstreams.start(), name="p")
    s = connect(proxy)
    net.rtt(s)
    proxy.disable()
    assert net.wait_closed(s)[1] < 2
    with pytest.raises(ConnectionRefusedError):
        connect(proxy)
    assert api.get("/proxies/p").json()["enabled"] is False
    proxy.enable()  # back on the same address
    assert api.get("/proxies/p").json()["listen"] == proxy.listen
    net.rtt(connect(proxy))


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_update_enabled(api, upstreams, connect, net, method):
    listen = api.post("/proxies", json={"name": "u", "upstream": upstreams.start(),
                                        "listen": "127.0.0.1:0"}).json()["listen"]
    resp = api.request(method, "/proxies/u", json={"enabled": False})
    assert resp.status_code == 200 and resp.json()["enabled"] is False
    with pytest.raises(ConnectionRefusedError):
        connect(listen)
    resp = api.request(method, "/proxies/u", json={"enabled": True})
    assert resp.status_code == 200 and resp.json()["enabled"] is True
    net.rtt(connect(listen))


def test_update_upstream_switches_new_connections(tp, api, upstreams, connect, net):
    proxy = tp.create(upstream=upstreams.start(), name="sw")
    live = connect(proxy)
    net.rtt(live)
    other = upstreams.start(net.send_on_request(b"other upstream"))
    resp = api.patch("/proxies/sw", json={"upstream": other})
    assert resp.status_code == 200 and resp.json()["upstream"] == other
    assert net.wait_closed(live)[1] < 2  # a restart drops live connections
    s = connect(resp.json()["listen"])
    s.sendall(b"hi")
    assert net.recv_all(s) == b"other upstream"


def test_delete_204_then_404(tp, api, upstreams, connect):
    proxy = tp.create(upstream=upstreams.start(), name="gone")
    assert api.delete("/proxies/gone").status_code == 204
    assert api.delete("/proxies/gone").status_code == 404
    with pytest.raises(ConnectionRefusedError):
        connect(proxy)


def test_populate_creates_keeps_and_replaces(api, upstreams):
    a, b = upstreams.start(), upstreams.start()
    resp = api.post("/populate", json=[{"name": "one", "upstream": a, "listen": "127.0.0.1:0"},
                                       {"name": "two", "upstream": b, "listen": "127.0.0.1:0"}])
    assert resp.status_code == 201
    created = {p["name"]: p for p in resp.json()["proxies"]}
    assert set(created) == {"one", "two"} and all(p["enabled"] for p in created.values())
    api.post("/proxies/one/toxics", json={"type": "latency"})
    # Same listen and upstream: kept as is, toxics included. Different upstream: replaced.
    resp = api.post("/populate", json=[
        {"name": "one", "upstream": a, "listen": created["one"]["listen"]},
        {"name": "two", "upstream": a, "listen": created["two"]["listen"]},
    ])
    assert resp.status_code == 201
    again = {p["name"]: p for p in resp.json()["proxies"]}
    assert [t["type"] for t in again["one"]["toxics"]] == ["latency"]
    assert again["two"]["upstream"] == a


def test_populate_validates_everything_first(api, upstreams):
    resp = api.post("/populate", json=[{"name": "ok", "upstream": upstreams.start()},
                                       {"upstream": "127.0.0.1:1"}])
    assert resp.status_code == 400
    assert resp.json()["error"] == "missing required field: name at proxy 2"
    assert api.get("/proxies").json() == {}


def test_populate_disabled_entry(api, upstreams, connect):
    resp = api.post("/populate", json=[{"name": "off", "upstream": upstreams.start(),
                                        "listen": "127.0.0.1:0", "enabled": False}])
    assert resp.status_code == 201
    assert resp.json()["proxies"][0]["enabled"] is False


def test_listen_address_in_use_500(api, upstreams, healthy):
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        for path, body in [("/proxies", {"name": "clash", "upstream": upstreams.start(),
                                         "listen": f"127.0.0.1:{port}"}),
                           ("/populate", [{"name": "clash", "upstream": upstreams.start(),
                                           "listen": f"127.0.0.1:{port}"}])]:
            resp = api.post(path, json=body)
            assert resp.status_code == 500, path
            err = resp.json()
            assert err["status"] == 500
            assert err["error"] == f"listen tcp 127.0.0.1:{port}: bind: address already in use"
    assert api.get("/proxies/clash").status_code == 404


@pytest.mark.parametrize(("listen", "error"), [
    ("local373", "listen tcp: address local373: missing port in address"),
    ("127.0.0.1:99999", "listen tcp: address 99999: invalid port"),
])
def test_bad_listen_address_500(api, upstreams, listen, error, healthy):
    resp = api.post("/proxies", json={"name": "bad", "upstream": upstreams.start(),
                                      "listen": listen})
    assert resp.status_code == 500
    assert resp.json()["error"] == error
    assert api.get("/proxies/bad").status_code == 404


def test_ipv6_and_localhost_listen(api, upstreams, connect, net):
    resp = api.post("/proxies", json={"name": "lh", "upstream": upstreams.start(),
                                      "listen": "localhost:0"})
    assert resp.status_code == 201 and resp.json()["listen"].startswith("127.0.0.1:")
    if socket.has_ipv6:
        resp = api.post("/proxies", json={"name": "v6", "upstream": upstreams.start(),
                                          "listen": "[::1]:0"})
        assert resp.status_code == 201 and resp.json()["listen"].startswith("[::1]:")
        net.rtt(connect(resp.json()["listen"]))


def test_upstream_refusing_connections(tp, connect, net, healthy):
    with socket.create_server(("127.0.0.1", 0)) as s:
        dead = f"127.0.0.1:{s.getsockname()[1]}"  # closed below: connecting is refused
    proxy = tp.create(upstream=dead, name="dead")  # Toxiproxy only dials per connection
    assert proxy.enabled
    for _ in range(3):
        how, waited = net.wait_closed(connect(proxy))
        assert waited < 2


@pytest.mark.parametrize("toxic_type", sorted(DEFAULT_ATTRIBUTES))
def test_toxic_defaults_and_shape(tp, api, upstreams, toxic_type):
    proxy = tp.create(upstream=upstreams.start(), name="t")
    resp = api.post("/proxies/t/toxics", json={"type": toxic_type})
    assert resp.status_code == 200
    expected = {"attributes": DEFAULT_ATTRIBUTES[toxic_type], "name": f"{toxic_type}_downstream",
                "type": toxic_type, "stream": "downstream", "toxicity": 1.0}
    assert resp.json() == expected
    assert api.get("/proxies/t/toxics").json() == [expected]
    assert api.get(f"/proxies/t/toxics/{toxic_type}_downstream").json() == expected
    toxic = proxy.get_toxic(f"{toxic_type}_downstream")
    assert (toxic.type, toxic.stream, toxic.toxicity) == (toxic_type, "downstream", 1.0)


def test_toxic_list_order_and_client_calls(tp, api, upstreams):
    proxy = tp.create(upstream=upstreams.start(), name="t")
    proxy.add_toxic(type="latency", name="d1", attributes={"latency": 10})
    proxy.add_toxic(type="slicer", stream="upstream", toxicity=0.5,
                    attributes={"average_size": 8, "size_variation": 2, "delay": 10})
    proxy.add_toxic(type="bandwidth", name="d2", attributes={"rate": 1000})
    listed = api.get("/proxies/t/toxics").json()
    assert [t["name"] for t in listed] == ["slicer_upstream", "d1", "d2"]  # upstream first
    assert listed[0] == {"attributes": {"average_size": 8, "size_variation": 2, "delay": 10},
                         "name": "slicer_upstream", "type": "slicer", "stream": "upstream",
                         "toxicity": 0.5}
    assert set(proxy.toxics()) == {"d1", "d2", "slicer_upstream"}
    assert api.get("/proxies/t").json()["toxics"] == listed
    assert proxy.destroy_toxic("d1")
    assert set(proxy.toxics()) == {"d2", "slicer_upstream"}


def test_toxic_conflicts_409(tp, api, upstreams, healthy):
    proxy = tp.create(upstream=upstreams.start(), name="t")
    proxy.add_toxic(type="latency", name="same", stream="upstream")
    for body in [{"type": "slow_close", "name": "same"},
                 {"type": "latency", "name": "same", "stream": "downstream"}]:
        resp = api.post("/proxies/t/toxics", json=body)
        assert resp.status_code == 409
        assert resp.json() == {"error": "toxic already exists", "status": 409}


def test_invalid_toxic_type_400(tp, api, upstreams, healthy):
    proxy = tp.create(upstream=upstreams.start(), name="t")
    resp = api.post("/proxies/t/toxics", json={"type": "walrus"})
    assert resp.status_code == 400
    assert resp.json() == {"error": "invalid toxic type", "status": 400}
    with pytest.raises(txe.InvalidToxic):
        proxy.add_toxic(type="walrus")
    assert api.post("/proxies/t/toxics", json={}).status_code == 400  # no type at all


def test_invalid_stream_400(tp, api, upstreams, healthy):
    tp.create(upstream=upstreams.start(), name="t")
    resp = api.post("/proxies/t/toxics", json={"type": "latency", "stream": "sideways"})
    assert resp.status_code == 400
    assert resp.json() == {"error": "stream was invalid, can be either upstream or downstream",
                           "status": 400}


@pytest.mark.parametrize("attributes", [{"latency": "fast"}, {"latency": 1.5}, "nope"])
def test_bad_attribute_type_400(tp, api, upstreams, attributes, healthy):
    tp.create(upstream=upstreams.start(), name="t")
    resp = api.post("/proxies/t/toxics", json={"type": "latency", "attributes": attributes})
    assert resp.status_code == 400
    assert resp.json()["error"].startswith("bad request body")
    assert api.get("/proxies/t/toxics").json() == []


def test_negative_attribute_400(tp, api, upstreams, healthy):
    if tp.is_real:
        pytest.skip("Toxiproxy accepts negative attributes; sselab rejects them on purpose")
    tp.create(upstream=upstreams.start(), name="t")
    resp = api.post("/proxies/t/toxics", json={"type": "latency", "attributes": {"jitter": -5}})
    assert resp.status_code == 400
    assert resp.json() == {"error": "bad request body: attributes.jitter must be >= 0 (got -5)",
                           "status": 400}
    api.post("/proxies/t/toxics", json={"type": "latency", "name": "ok"})
    resp = api.patch("/proxies/t/toxics/ok", json={"attributes": {"latency": -1}})
    assert resp.status_code == 400 and "attributes.latency" in resp.json()["error"]


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_toxic_update_is_partial(tp, api, upstreams, method):
    tp.create(upstream=upstreams.start(), name="t")
    api.post("/proxies/t/toxics", json={"type": "latency", "toxicity": 0.5,
                                        "attributes": {"latency": 100, "jitter": 10}})
    resp = api.request(method, "/proxies/t/toxics/latency_downstream",
                       json={"attributes": {"latency": 1000}})
    assert resp.status_code == 200
    assert resp.json()["attributes"] == {"latency": 1000, "jitter": 10}
    assert resp.json()["toxicity"] == 0.5
    resp = api.request(method, "/proxies/t/toxics/latency_downstream", json={"toxicity": 0.25})
    assert resp.json()["toxicity"] == 0.25
    assert resp.json()["attributes"] == {"latency": 1000, "jitter": 10}


def test_toxic_404s_and_delete(tp, api, upstreams):
    proxy = tp.create(upstream=upstreams.start(), name="t")
    not_found = {"error": "toxic not found", "status": 404}
    assert api.get("/proxies/t/toxics/nope").json() == not_found
    assert api.patch("/proxies/t/toxics/nope", json={}).status_code == 404
    assert api.delete("/proxies/t/toxics/nope").json() == not_found
    proxy.add_toxic(type="latency")
    assert api.delete("/proxies/t/toxics/latency_downstream").status_code == 204
    assert api.delete("/proxies/t/toxics/latency_downstream").status_code == 404


def test_reset_enables_and_clears(tp, api, upstreams, connect, net):
    proxy = tp.create(upstream=upstreams.start(), name="r")
    proxy.add_toxic(type="latency", attributes={"latency": 1000})
    proxy.disable()
    assert api.post("/reset").status_code == 204
    body = api.get("/proxies/r").json()
    assert body["enabled"] is True and body["toxics"] == []
    assert net.rtt(connect(proxy)) < 0.5
    assert tp.reset()


def test_browser_user_agent_403(api):
    resp = api.get("/proxies", headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64)"})
    assert resp.status_code == 403
    assert api.get("/proxies", headers={"User-Agent": "curl/8"}).status_code == 200
