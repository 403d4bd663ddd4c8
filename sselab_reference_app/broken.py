"""Deliberately broken switches -- for sselab's own tests, never copy.

Each flag reproduces one bug that real streaming apps ship, so that ``sselab check`` and the
tests can prove they catch it. All are off by default; turn them on with
``create_app(flags=["no_abort", ...])`` or ``REFERENCE_BROKEN=no_abort,buffered``.

======================  ===================================================================
flag                    the bug it reproduces
======================  ===================================================================
no_abort                the browser leaves, the app keeps reading (and paying for) the
                        upstream stream to its end
buffered                the whole answer is collected, then sent at once
swallow_errors          an upstream error ends the stream as if it had completed
no_idle_timeout         a stalled upstream holds the stream open forever
naive_utf8              each network read is decoded on its own: a UTF-8 character cut
                        between two reads becomes U+FFFD replacement characters
unbounded_readahead     the upstream is read as fast as it sends, however slowly the
                        browser reads: the answer grows in memory (no back-pressure)
no_headers              the streaming headers (Cache-Control: no-cache, no-transform and
                        X-Accel-Buffering: no) are left out, so a buffering or compressing
                        proxy holds the stream back
no_resume               Last-Event-ID is ignored and a dropped browser stops the answer at
                        once: a reconnect starts the answer again (its text repeats, the
                        provider is paid twice)
======================  ===================================================================
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields

FLAG_NAMES = ("no_abort", "buffered", "swallow_errors", "no_idle_timeout", "naive_utf8",
              "unbounded_readahead", "no_headers", "no_resume")


@dataclass(frozen=True)
class Flags:
    no_abort: bool = False
    buffered: bool = False
    swallow_errors: bool = False
    no_idle_timeout: bool = False
    naive_utf8: bool = False
    unbounded_readahead: bool = False
    no_headers: bool = False
    no_resume: bool = False

    @classmethod
    def parse(cls, value: Flags | str | Iterable[str] | None) -> Flags:
        """Flags from a Flags, a comma-separated string or names; unknown names are an error."""
        if value is None:
            return cls()
        if isinstance(value, Flags):
            return value
        names = value.split(",") if isinstance(value, str) else list(value)
        names = [n.strip().replace("-", "_") for n in names if n.strip()]
        unknown = [n for n in names if n not in FLAG_NAMES]
        if unknown:
            raise ValueError(f"unknown broken flag {unknown[0]!r}; "
                             f"choose from {', '.join(FLAG_NAMES)}")
        return cls(**{n: True for n in names})

    @property
    def on(self) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name)]


def naive_decode(chunk: bytes) -> bytes:
    """naive_utf8: decode this read alone (a cut character turns into U+FFFD)."""
    return chunk.decode("utf-8", "replace").encode()
