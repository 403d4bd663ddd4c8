"""Bytes waiting in kernel socket queues, from Linux's ``/proc/net/tcp{,6}``.

Used to tell bytes *held by the team's server* from bytes merely sitting in socket buffers on
the way (loopback buffers grow to megabytes). Both ends of every connection on this host are
visible, so for the simulator's port we see what the simulator has not yet handed over (its
send queue) and what the endpoint has not yet read (its receive queue). Elsewhere (macOS, or
an app in another network namespace) :func:`queues` finds nothing and callers fall back to an
upper bound.
"""

from __future__ import annotations

from dataclasses import dataclass

FILES = ("/proc/net/tcp", "/proc/net/tcp6")
ESTABLISHED = "01"


@dataclass(frozen=True)
class Queue:
    local_port: int
    remote_port: int
    tx: int  # bytes sent but not yet acknowledged (on loopback: not yet in the peer's buffer)
    rx: int  # bytes received but not yet read by the process


def queues() -> list[Queue]:
    """Every established TCP connection's queues (empty where /proc is unavailable)."""
    out: list[Queue] = []
    for path in FILES:
        try:
            with open(path, encoding="ascii") as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) < 5 or parts[3] != ESTABLISHED:
                continue
            try:
                local = int(parts[1].rsplit(":", 1)[1], 16)
                remote = int(parts[2].rsplit(":", 1)[1], 16)
                tx, rx = (int(x, 16) for x in parts[4].split(":"))
            except (ValueError, IndexError):
                continue
            out.append(Queue(local, remote, tx, rx))
    return out


@dataclass(frozen=True)
class Between:
    """Queued bytes on both sides of the connections between two ports."""

    server_tx: int  # in the server's send queues (not yet reached the client side)
    client_rx: int  # in the client's receive queues (not yet read by the client)
    found: bool


def between(server_port: int, client_port: int | None = None,
            snapshot: list[Queue] | None = None) -> Between:
    """Queues of connections from ``client_port`` (any, if None) to ``server_port``."""
    qs = queues() if snapshot is None else snapshot
    server = [q for q in qs if q.local_port == server_port
              and (client_port is None or q.remote_port == client_port)]
    client = [q for q in qs if q.remote_port == server_port
              and (client_port is None or q.local_port == client_port)]
    return Between(sum(q.tx for q in server), sum(q.rx for q in client),
                   bool(server and client))
