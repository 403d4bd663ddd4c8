"""nginx as a reverse proxy with its defaults (``proxy_pass`` and nothing else).

Parameters are nginx's directives with nginx's defaults on Linux (one page = 4 KiB). The
decisions follow nginx 1.22 as measured (docs/nginx-characterisation.md):

* ``X-Accel-Buffering`` from the upstream switches buffering for that response: exactly ``no``
  or ``yes`` in any case (any other value is ignored), unless ``proxy_ignore_headers`` lists it;
  ``yes`` turns buffering on even under ``proxy_buffering off``. The header is not passed on.
* Buffered: the response head is held until the first body bytes go out. Unbuffered: the head
  goes out at once and every read of at most ``proxy_buffer_size`` bytes is flushed.
* gzip (ngx_http_gzip_module) compresses when: ``gzip on``, the request is HTTP/1.1+ with a
  ``gzip`` Accept-Encoding (q > 0) and no ``Via`` (``gzip_proxied off``), the status is 200, 403
  or 404, the type is in ``gzip_types``, no Content-Encoding is set, and any Content-Length is
  at least ``gzip_min_length``. ``Cache-Control: no-transform`` does NOT stop it. Compressed
  output leaves in whole ``gzip_buffers`` (4 KiB) buffers unless the input was flushed, which
  only unbuffered proxying does.

Where sselab differs on purpose: an upstream that answers with something other than HTTP gets a
502 here, while nginx 1.22 relays the bytes raw as an HTTP/0.9 response (logging "upstream sent
no valid HTTP/1.0 header").
"""

from __future__ import annotations

from dataclasses import dataclass

from .._http import BodyReader, Head
from ..nginx_model import NginxPipe
from ..stages import Deframe, Gzip
from .base import Plan, Profile, RequestInfo, forwardable, register

_HIDDEN = frozenset({"date", "server", "x-pad", "x-accel-expires", "x-accel-redirect",
                     "x-accel-limit-rate", "x-accel-buffering", "x-accel-charset"})


def _accepts_gzip(value: str) -> bool:
    for item in value.lower().split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip() == "gzip":
            q = params.replace(" ", "")
            return not (q.startswith("q=0") and q.strip("q=0.") == "")
    return False


@dataclass(frozen=True)
class Nginx:
    """nginx's proxy and gzip directives that decide when bytes move."""

    proxy_http_version: str = "1.0"
    proxy_buffering: bool = True
    proxy_buffer_size: int = 4096
    proxy_buffers: tuple[int, int] = (8, 4096)
    proxy_busy_buffers_size: int = 8192  # no effect while the client reads fast
    ignore_x_accel_buffering: bool = False  # proxy_ignore_headers X-Accel-Buffering
    gzip: bool = False
    gzip_types: tuple[str, ...] = ("text/html",)
    gzip_comp_level: int = 1
    gzip_buffers: tuple[int, int] = (32, 4096)
    gzip_min_length: int = 20

    @property
    def upstream_version(self) -> str:
        return self.proxy_http_version

    @property
    def max_head(self) -> int:
        return self.proxy_buffer_size

    def buffering_for(self, head: Head) -> tuple[bool, str]:
        value = (head.get("x-accel-buffering") or "").lower()
        if not self.ignore_x_accel_buffering and value in ("no", "yes"):
            return value == "yes", f"X-Accel-Buffering: {value}"
        return self.proxy_buffering, f"proxy_buffering {'on' if self.proxy_buffering else 'off'}"

    def gzips(self, request: RequestInfo, head: Head) -> bool:
        ctype = (head.get("content-type") or "").split(";", 1)[0].strip().lower()
        length = head.get("content-length")
        return (self.gzip and request.version >= (1, 1) and request.method != "HEAD"
                and _accepts_gzip(request.header("accept-encoding"))
                and not request.header("via")
                and head.status in (200, 403, 404)
                and ("*" in self.gzip_types or ctype in self.gzip_types)
                and not (head.get("content-encoding") or "")
                and not (length and length.isdigit() and int(length) < self.gzip_min_length))

    def plan(self, request: RequestInfo, head: Head) -> Plan:
        buffered, why = self.buffering_for(head)
        reader = BodyReader.for_head(head, request.method)
        headers = forwardable(head, _HIDDEN)
        headers.append(("Server", "nginx (sselab emulation)"))
        if buffered:
            stage = NginxPipe(reader, first_room=self.proxy_buffer_size - head.size,
                              buffer_size=self.proxy_buffers[1])
            mode = f"buffered ({why}, {self.proxy_buffers[1]}-byte buffers)"
        else:
            stage = Deframe(reader)
            mode = f"unbuffered ({why})"
        if self.gzips(request, head):
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Encoding", "gzip"))
            stage = Gzip(stage, level=self.gzip_comp_level, unit=self.gzip_buffers[1],
                         flush_each=not buffered)
            mode += f", gzip in {self.gzip_buffers[1]}-byte buffers"
        return Plan(head.status, head.reason, headers, stage, headers_early=not buffered,
                    read_size=65536 if buffered else self.proxy_buffer_size,
                    mode=mode)


PROFILE = register(Profile(
    name="nginx",
    summary="nginx reverse proxy with its defaults (proxy_http_version 1.0, proxy_buffering on)",
    trigger="any upstream response without X-Accel-Buffering: no",
    symptom="nothing until 4 KiB (minus the response head) has accumulated, then 4 KiB "
            "slabs; a short stream arrives all at once at the end, head included",
    fix="send X-Accel-Buffering: no from the app (or set proxy_buffering off; or "
        "proxy_http_version 1.1, which streams events that arrive whole)",
    behaviour=Nginx(),
))
