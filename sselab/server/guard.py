"""Who may use the control API (``/_sselab/*``): DNS-rebinding, cross-site and token checks.

The control API can reset the timeline, change the default scenario and read every recorded
request, so a web page open in the developer's browser must not be able to use it:

- **Host**: the ``Host`` header must name this server: ``localhost`` (or ``*.localhost``), an IP
  address, the host it was bound to (and the machine's name when bound to every interface), or
  one of ``allowed_hosts``. A page on ``evil.example`` whose name was rebound to 127.0.0.1 sends
  ``Host: evil.example`` and gets 403 (DNS-rebinding protection, as in Jupyter and Vite). The
  port is not compared: a port mapping or a Toxiproxy in front changes it.
- **Origin**: a request carrying an ``Origin`` other than the server's own (``http://`` + its
  Host) gets 403, and no ``/_sselab/*`` answer carries CORS headers for another origin.
- **Content type**: POST, PUT, PATCH and DELETE need ``Content-Type: application/json`` (415
  otherwise): a browser cannot send that cross-origin without a preflight, which is refused.
- **Token** (opt-in, for binds other than loopback): with ``control_token`` set, every
  ``/_sselab/*`` request needs ``Authorization: Bearer TOKEN`` or ``X-Sselab-Token: TOKEN``
  (401 otherwise); the Host check is then skipped, since a page cannot know the token.

Provider routes are not affected: they keep permissive CORS for browser clients.
"""

from __future__ import annotations

import hmac
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from aiohttp import web

CONTROL_PREFIX = "/_sselab/"
TOKEN_HEADER = "X-Sselab-Token"
_STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_WILDCARD = frozenset({"", "0.0.0.0", "::", "*"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    """Whether a bind address only accepts connections from this machine."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind_warning(host: str, token: str | None) -> str | None:
    """What ``sselab serve`` says when it listens beyond this machine without a token."""
    if token or is_loopback(host):
        return None
    return (f"listening on {host} without --control-token: anyone who can reach this port can "
            f"reset the timeline, change the default scenario and read every recorded "
            f"request; pass --control-token TOKEN (or set SSELAB_CONTROL_TOKEN)")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def host_name(host_header: str) -> str:
    """The name part of a ``Host`` header: no port, no IPv6 brackets, lower case."""
    value = host_header.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value[1:]
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.rstrip(".")


@dataclass(frozen=True)
class ControlGuard:
    """The control API's checks for one server (see the module docstring)."""

    bound_host: str = "127.0.0.1"
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)
    token: str | None = None

    @classmethod
    def make(cls, bound_host: str, allowed_hosts: Iterable[str] = (),
             token: str | None = None) -> ControlGuard:
        names = {host_name(h) if h != "*" else "*" for h in allowed_hosts if h}
        return cls(bound_host, frozenset(names), token or None)

    def names(self) -> list[str]:
        """The allowed host names, for error messages (IP addresses are allowed too)."""
        out = ["localhost", "127.0.0.1", "[::1]"]
        bound = self.bound_host.strip("[]").lower()
        if bound in _WILDCARD:
            out.append(socket.gethostname().lower())
        elif bound not in ("localhost", "127.0.0.1", "::1"):
            out.append(f"[{bound}]" if ":" in bound else bound)
        return out + sorted(self.allowed_hosts)

    def host_allowed(self, host_header: str | None) -> bool:
        if not host_header:
            return False
        name = host_name(host_header)
        if "*" in self.allowed_hosts or _is_ip(name):
            return True
        if name == "localhost" or name.endswith(".localhost"):
            return True
        bound = self.bound_host.strip("[]").lower()
        if name == bound or (bound in _WILDCARD and name == socket.gethostname().lower()):
            return True
        return name in self.allowed_hosts or any(
            a.startswith(".") and name.endswith(a) for a in self.allowed_hosts)

    def token_ok(self, request: web.Request) -> bool:
        assert self.token is not None
        given = request.headers.get(TOKEN_HEADER)
        auth = request.headers.get("Authorization", "")
        if given is None and auth[:7].lower() == "bearer ":
            given = auth[7:].strip()
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    def refusal(self, request: web.Request) -> web.Response | None:
        """The error answer for a control request that fails a check, else None."""
        host = request.headers.get("Host")
        if self.token is None and not self.host_allowed(host):
            return _refuse(403, f"sselab: the control API answers only requests addressed to "
                                f"this server; Host {host!r} is not one of "
                                f"{', '.join(self.names())} or an IP address (DNS-rebinding "
                                f"protection; add names with --allow-host)")
        origin = request.headers.get("Origin")
        if origin is not None and not same_origin(origin, host):
            return _refuse(403, f"sselab: the control API refuses cross-origin requests "
                                f"(Origin {origin!r}); call it from a test or a script, not "
                                f"from a web page")
        if self.token is not None and not self.token_ok(request):
            return _refuse(401, "sselab: this control API needs its token: send "
                                "'Authorization: Bearer TOKEN' or 'X-Sselab-Token: TOKEN'")
        if request.method in _STATE_CHANGING and request.content_type != "application/json":
            got = request.headers.get("Content-Type")
            return _refuse(415, f"sselab: {request.method} {request.path} needs "
                                f"'Content-Type: application/json' (got "
                                f"{got if got is None else repr(got)}); send a JSON body, "
                                f"e.g. {{}}")
        return None


def same_origin(origin: str, host: str | None) -> bool:
    return host is not None and origin.rstrip("/").lower() == f"http://{host.strip().lower()}"


def _refuse(status: int, message: str) -> web.Response:
    return web.json_response({"error": message, "status": status}, status=status)


def is_control(request: web.Request) -> bool:
    return request.path.startswith(CONTROL_PREFIX)


def middleware(guard: ControlGuard) -> Callable[[web.Request, Handler],
                                                 Awaitable[web.StreamResponse]]:
    @web.middleware
    async def control_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if is_control(request):
            refused = guard.refusal(request)
            if refused is not None:
                return refused
        return await handler(request)

    return control_guard


async def cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Browsers may call provider routes straight from a dev server on another origin; the
    control API answers its own origin only (a page the simulator serves itself)."""
    if is_control(request):
        origin = request.headers.get("Origin")
        if origin is not None and same_origin(origin, request.headers.get("Host")):
            response.headers.setdefault("Access-Control-Allow-Origin", origin)
            response.headers.setdefault("Vary", "Origin")
        return
    response.headers.setdefault("Access-Control-Allow-Origin", "*")
    response.headers.setdefault("Access-Control-Expose-Headers", "*")


async def preflight(request: web.Request) -> web.Response:
    if is_control(request):  # the guard middleware has refused other origins already
        return web.Response(status=204)
    return web.Response(status=204, headers={
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": request.headers.get(
            "Access-Control-Request-Headers", "*"),
        "Access-Control-Max-Age": "600",
    })
