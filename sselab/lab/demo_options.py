"""What the demo lab lets you choose: the path between the app and the browser, and the app
variant (the reference app, or it with one of its deliberately broken flags)."""

from __future__ import annotations

from dataclasses import dataclass

from sselab_reference_app import FLAG_NAMES

from ..buffering import get_profile

PATHS = ("direct", "nginx", "nginx-gzip", "gzip-middleware")
REFERENCE = "reference"
# the one-line bug of each flag (sselab_reference_app/broken.py says the same at length)
FLAG_HELP = {
    "no_abort": "keeps reading (and paying for) the upstream stream after the browser left",
    "buffered": "collects the whole answer, then sends it at once",
    "swallow_errors": "ends the stream as if complete when the upstream sent an error",
    "no_idle_timeout": "holds the stream open forever when the upstream stalls",
    "naive_utf8": "decodes each read on its own: a cut UTF-8 character becomes U+FFFD",
    "unbounded_readahead": "reads the upstream into an unbounded queue (no back-pressure)",
    "no_headers": "naive: sends no streaming headers (no X-Accel-Buffering: no, no "
                  "no-transform), so a buffering or compressing proxy holds the stream back",
    "no_resume": "ignores Last-Event-ID: a reconnect starts the answer again (text repeats)",
}
VARIANTS = (REFERENCE, *FLAG_NAMES)


@dataclass(frozen=True)
class Choice:
    name: str
    label: str
    description: str


def paths() -> list[Choice]:
    out = [Choice("direct", "direct", "the browser talks to the app, nothing in between")]
    for name in PATHS[1:]:
        out.append(Choice(name, name, get_profile(name).summary))
    return out


def variants() -> list[Choice]:
    out = [Choice(REFERENCE, "reference app", "streaming done right: the copyable example")]
    for flag in FLAG_NAMES:
        label = "naive (no_headers)" if flag == "no_headers" else flag
        out.append(Choice(flag, label, FLAG_HELP[flag]))
    return out
