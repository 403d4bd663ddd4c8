"""Run the real nginx (Debian's /usr/sbin/nginx) as our own child process, for comparison.

Everything lives in a temp dir: config, pid, error log and temp paths. nginx runs in the
foreground without a master (``daemon off; master_process off;``) and is stopped by its PID.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

NGINX = "/usr/sbin/nginx"

_CONF = """daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass {upstream};
            {directives}
        }}
    }}
}}
"""


def nginx_available() -> bool:
    return os.access(NGINX, os.X_OK)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RealNginx:
    """``with RealNginx(upstream_url, "gzip on; ...") as ng:`` then request ``ng.url``."""

    def __init__(self, upstream: str, directives: str = "") -> None:
        self.upstream, self.directives = upstream, directives
        self.dir = Path(tempfile.mkdtemp(prefix="sselab-nginx-"))
        self.port = 0
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def error_log(self) -> str:
        path = self.dir / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __enter__(self) -> RealNginx:
        for _ in range(3):  # the free port may be taken between probe and bind: retry
            self.port = free_port()
            conf = self.dir / "nginx.conf"
            conf.write_text(_CONF.format(d=self.dir, port=self.port, upstream=self.upstream,
                                         directives=self.directives))
            self.proc = subprocess.Popen(
                [NGINX, "-p", str(self.dir), "-c", str(conf), "-e", str(self.dir / "error.log")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                    return self
                except OSError:
                    time.sleep(0.02)
            self._stop()
        raise RuntimeError(f"nginx did not start: {self.error_log()[-500:]}")

    def _stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __exit__(self, *exc: object) -> None:
        self._stop()
        shutil.rmtree(self.dir, ignore_errors=True)
