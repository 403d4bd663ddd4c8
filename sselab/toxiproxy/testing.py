"""A ready ``toxiproxy-python`` client for tests, on the embedded server or a real Toxiproxy.

``toxiproxy_client()`` picks the server the way the README describes:

1. ``TOXIPROXY_URL`` set (e.g. ``http://127.0.0.1:8474``): that running server;
2. else ``toxiproxy-server`` on PATH: started on a free port for the duration;
3. else sselab's embedded server, started in a thread on a free port.

It yields a :class:`SselabToxiproxy` (a ``toxiproxy.Toxiproxy`` that also knows ``api_url`` and
``backend``) and removes every proxy on that server afterwards. toxiproxy-python keeps its server
address in class attributes, so one such client is active at a time; the previous address is
restored on exit. The pytest fixture ``toxiproxy`` wraps it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote, urlsplit

try:
    import toxiproxy as _client
    from toxiproxy.api import APIConsumer
except ImportError as e:  # pragma: no cover - the test extra is missing
    raise ImportError(
        "sselab.toxiproxy.testing needs toxiproxy-python: pip install toxiproxy-python") from e

from .server import start_in_thread

SERVER_BINARY = "toxiproxy-server"
BACKENDS = ("auto", "embedded", "real")


class RealToxiproxyUnavailable(RuntimeError):
    """``backend="real"`` was asked for, but there is no real Toxiproxy to use."""


class SselabToxiproxy(_client.Toxiproxy):
    """A ``toxiproxy.Toxiproxy`` client that also says which server it talks to."""

    def __init__(self, api_url: str, backend: str) -> None:
        super().__init__()
        self.api_url = api_url
        self.backend = backend  # "embedded", "external" (TOXIPROXY_URL) or "subprocess"

    @property
    def is_real(self) -> bool:
        return self.backend != "embedded"


def real_server_unavailable_reason() -> str | None:
    """None when a real Toxiproxy can be used, else why not (for a skip reason)."""
    if os.environ.get("TOXIPROXY_URL"):
        return None
    if shutil.which(SERVER_BINARY):
        return None
    return (f"no real Toxiproxy: TOXIPROXY_URL is not set and {SERVER_BINARY} "
            "is not on PATH")


@contextmanager
def toxiproxy_client(backend: str = "auto") -> Iterator[SselabToxiproxy]:
    """A ready client; ``backend`` is "auto" (see the module doc), "embedded" or "real"."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    with _server(backend) as (api_url, kind):
        parts = urlsplit(api_url)
        saved = (APIConsumer.host, APIConsumer.port)
        client = SselabToxiproxy(api_url, kind)
        client.update_api_consumer(parts.hostname, parts.port or 8474)
        try:
            yield client
        finally:
            try:
                remove_all_proxies(api_url)
            finally:
                APIConsumer.host, APIConsumer.port = saved


@contextmanager
def _server(backend: str) -> Iterator[tuple[str, str]]:
    url = os.environ.get("TOXIPROXY_URL")
    binary = shutil.which(SERVER_BINARY)
    if backend != "embedded" and url:
        url = url.rstrip("/")
        if not _answers(url):
            raise RuntimeError(f"TOXIPROXY_URL is {url}, but no Toxiproxy answers there")
        yield url, "external"
    elif backend != "embedded" and binary:
        with _subprocess_server(binary) as api_url:
            yield api_url, "subprocess"
    elif backend == "real":
        raise RealToxiproxyUnavailable(real_server_unavailable_reason())
    else:
        with start_in_thread() as server:
            yield server.api_url, "embedded"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextmanager
def _subprocess_server(binary: str, timeout: float = 15.0) -> Iterator[str]:
    port = free_port()
    api_url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([binary, "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + timeout
        while not _answers(api_url):
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise RuntimeError(f"{binary} exited with {proc.returncode}: {err[-500:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{binary} did not answer on {api_url} within {timeout} s")
            time.sleep(0.05)
        yield api_url
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if proc.stderr:
            proc.stderr.close()


def _answers(api_url: str) -> bool:
    try:
        with urllib.request.urlopen(api_url + "/version", timeout=1) as resp:
            return resp.status == 200
    except (OSError, urllib.error.URLError):
        return False


def remove_all_proxies(api_url: str) -> None:
    """Delete every proxy on the server at ``api_url``."""
    with urllib.request.urlopen(api_url + "/proxies", timeout=10) as resp:
        names = list(json.load(resp))
    for name in names:
        req = urllib.request.Request(f"{api_url}/proxies/{quote(name, safe='')}", method="DELETE")
        try:
            urllib.request.urlopen(req, timeout=10).close()
        except urllib.error.HTTPError as e:
            if e.code != 404:  # already gone is fine
                raise


try:
    import pytest
except ImportError:  # pragma: no cover - pytest-independent use
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture
    def toxiproxy() -> Iterator[SselabToxiproxy]:
        """A ``toxiproxy.Toxiproxy`` client on a fresh server (see ``toxiproxy_client``)."""
        with toxiproxy_client() as client:
            yield client
