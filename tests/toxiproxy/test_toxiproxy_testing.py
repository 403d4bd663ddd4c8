"""``toxiproxy_client()`` and the ``toxiproxy`` fixture: which server they use, and cleanup."""

from __future__ import annotations

import os
import stat
import sys
import urllib.request
from pathlib import Path

import pytest
import toxiproxy as toxiproxy_python
from toxiproxy.api import APIConsumer

from sselab.toxiproxy import start_in_thread
from sselab.toxiproxy.testing import (
    RealToxiproxyUnavailable,
    SselabToxiproxy,
    toxiproxy_client,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def no_real(monkeypatch):
    monkeypatch.delenv("TOXIPROXY_URL", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")


def test_fixture_gives_a_ready_client(toxiproxy, upstreams, connect, net):
    assert isinstance(toxiproxy, toxiproxy_python.Toxiproxy)
    proxy = toxiproxy.create(upstream=upstreams.start(), name="fx")
    net.rtt(connect(proxy))


def test_embedded_by_default_and_restores_the_client_address(no_real):
    saved = (APIConsumer.host, APIConsumer.port)
    with toxiproxy_client() as client:
        assert isinstance(client, SselabToxiproxy) and client.backend == "embedded"
        assert not client.is_real
        assert client.api_url == f"http://{APIConsumer.host}:{APIConsumer.port}"
        assert APIConsumer.port != 8474 and client.version()
    assert (APIConsumer.host, APIConsumer.port) == saved


def test_real_backend_unavailable_says_why(no_real):
    with pytest.raises(RealToxiproxyUnavailable, match="TOXIPROXY_URL is not set"):
        with toxiproxy_client("real"):
            pass
    with pytest.raises(ValueError, match="backend must be one of"):
        with toxiproxy_client("nope"):
            pass


def test_toxiproxy_url_is_used_and_cleaned(monkeypatch, upstreams):
    with start_in_thread() as external:
        monkeypatch.setenv("TOXIPROXY_URL", external.api_url)
        with toxiproxy_client() as client:
            assert client.backend == "external" and client.api_url == external.api_url
            client.create(upstream=upstreams.start(), name="a")
            client.create(upstream=upstreams.start(), name="b")
            assert set(external.server.collection.proxies) == {"a", "b"}
        assert external.server.collection.proxies == {}  # all proxies removed after use


def test_toxiproxy_url_not_answering_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("TOXIPROXY_URL", "http://127.0.0.1:9")  # discard port: nothing there
    with pytest.raises(RuntimeError, match="no Toxiproxy answers there"):
        with toxiproxy_client():
            pass


def test_server_binary_on_path_is_started_on_a_free_port(monkeypatch, tmp_path, upstreams,
                                                         connect, net):
    # A stand-in for toxiproxy-server taking its --host/--port flags: sselab's own CLI.
    fake = tmp_path / "toxiproxy-server"
    fake.write_text(
        f"#!/bin/sh\nPYTHONPATH={ROOT} exec {sys.executable} -c "
        "'from sselab.toxiproxy.cli import toxiproxy_command; toxiproxy_command()' \"$@\"\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.delenv("TOXIPROXY_URL", raising=False)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    with toxiproxy_client("real") as client:
        assert client.backend == "subprocess" and client.is_real
        proxy = client.create(upstream=upstreams.start(), name="sub")
        net.rtt(connect(proxy))
        url = client.api_url
    with pytest.raises(OSError):  # and stopped afterwards
        urllib.request.urlopen(url + "/version", timeout=1)
