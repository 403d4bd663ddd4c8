"""Reproduce "it streams on my laptop but arrives all at once in production".

A reverse proxy that buffers like a named middlebox (``nginx``, ``nginx-gzip``,
``full-buffer``, ``gzip-middleware``, ``passthrough``), and a report that runs one stream
through all of them::

    async with BufferingProxy("nginx", "http://127.0.0.1:8000") as proxy:
        ...  # point the client at proxy.url

    print(format_report(buffering_report("http://127.0.0.1:8000/sse")))

Each profile is one module in ``profiles/`` registered by name; ``profiles()`` lists them.
"""

from __future__ import annotations

from .emulator import BufferingProxy, SyncBufferingProxy
from .measure import BURST_GAP, Arrival, Burst, Trace, fetch_trace, group_bursts
from .profiles import Profile, get_profile, profiles
from .report import ReportRow, abuffering_report, buffering_report, format_report

__all__ = [
    "BURST_GAP",
    "Arrival",
    "Burst",
    "BufferingProxy",
    "Profile",
    "ReportRow",
    "SyncBufferingProxy",
    "Trace",
    "abuffering_report",
    "buffering_report",
    "fetch_trace",
    "format_report",
    "get_profile",
    "group_bursts",
    "profiles",
]
