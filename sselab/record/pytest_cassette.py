"""The ``sselab_cassette`` fixture: record a provider's answers once, replay them ever after, in
the conventions of vcrpy / pytest-recording.

Point the client under test at ``sselab_cassette.base_url`` (``+ "/v1"`` for the OpenAI SDK).
Each request is one recording in the test module's cassette directory
(``cassettes/<module>/`` beside it), named after the test. ``--sselab-record-mode``:

``none``          (the default, for CI) replay only; the network is never touched; a test with
                  no recording fails, naming the recording it needs
``once``          replay the test's recordings if it has any, else record them
``new_episodes``  replay what matches, record what does not
``all``           record everything again (the test's old recordings are removed)

Recording needs the upstream: ``@pytest.mark.sselab_cassette(upstream="https://api.openai.com")``
or ``--sselab-upstream URL``. The marker also takes ``directory`` and ``match_on``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .cassette import slug
from .schema import DEFAULT_MATCH, MATCH_CRITERIA

MODES = ("once", "none", "new_episodes", "all")
MARKER = ("sselab_cassette(upstream=None, directory=None, match_on=None): the sselab_cassette "
          "fixture's upstream to record from, cassette directory and match criteria")
_OFFLINE = "http://sselab-cassette.invalid"  # never contacted: forwarding is off


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sselab")
    group.addoption("--sselab-record-mode", choices=MODES, default=None,
                    help="sselab_cassette: none (replay only, the default), once, "
                         "new_episodes or all")
    group.addoption("--sselab-upstream", default=None, metavar="URL",
                    help="sselab_cassette: the upstream to record from (unless the marker "
                         "names one)")
    parser.addini("sselab_record_mode", "sselab_cassette's record mode (default: none)",
                  default="none")


@dataclass
class Cassette:
    """What ``sselab_cassette`` gives a test: the URL to call, and what happened."""

    directory: Path
    name: str  # every recording of this test starts with it
    mode: str
    proxy: Any  # the RecordingProxyThread serving the test
    existing: list[Path] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return self.proxy.base_url

    def url(self, path: str) -> str:
        return self.proxy.url(path)

    @property
    def recorded(self) -> list[Path]:
        """Recordings written during this test."""
        return self.proxy.written

    @property
    def played(self) -> dict[str, int]:
        """Recordings replayed during this test, by name, with how many times."""
        return dict(self.proxy.state.played)

    @property
    def requests(self) -> list[Any]:
        return self.proxy.recorder.requests


def _options(request: pytest.FixtureRequest) -> dict[str, Any]:
    marker = request.node.get_closest_marker("sselab_cassette")
    options = dict(marker.kwargs) if marker else {}
    unknown = set(options) - {"upstream", "directory", "match_on", "record_mode"}
    if unknown or (marker and marker.args):
        raise pytest.UsageError(f"@pytest.mark.sselab_cassette: unknown argument(s) "
                                f"{', '.join(sorted(unknown)) or 'positional'}; use upstream, "
                                "directory, match_on, record_mode")
    return options


def _mode(request: pytest.FixtureRequest, options: dict[str, Any]) -> str:
    mode = (request.config.getoption("--sselab-record-mode") or options.get("record_mode")
            or request.config.getini("sselab_record_mode") or "none")
    if mode not in MODES:
        raise pytest.UsageError(f"sselab record mode {mode!r}: use one of {', '.join(MODES)}")
    return mode


@pytest.fixture
def sselab_cassette(request: pytest.FixtureRequest) -> Iterator[Cassette]:
    """Replay this test's recordings, or record them (see ``--sselab-record-mode``)."""
    from .api import RecordingProxyThread
    from .proxy import recordings_in

    options = _options(request)
    mode = _mode(request, options)
    module = Path(str(request.node.path))
    directory = Path(options.get("directory") or module.parent / "cassettes" / module.stem)
    name = slug(request.node.name)
    match = tuple(options.get("match_on") or DEFAULT_MATCH)
    bad = [m for m in match if m not in MATCH_CRITERIA]
    if bad:
        raise pytest.UsageError(f"sselab_cassette match_on: unknown {bad}; use "
                                f"{', '.join(MATCH_CRITERIA)}")
    files = sorted(p for p in directory.glob(f"{name}-*.y*ml")) if directory.is_dir() else []
    if mode == "all":
        for path in files:
            path.unlink()
        files = []
    replay = recordings_in(directory, f"{name}-") if files else []
    record = mode in ("new_episodes", "all") or (mode == "once" and not files)
    if mode == "none" and not files:
        pytest.fail(f"sselab cassette: no recording for {request.node.nodeid}: nothing matches "
                    f"{directory / (name + '-*.yaml')}; record it once with "
                    "--sselab-record-mode=once (and an upstream)", pytrace=False)
    upstream = options.get("upstream") or request.config.getoption("--sselab-upstream")
    if record and not upstream:
        pytest.fail(f"sselab cassette: recording {request.node.nodeid} ({mode} mode) needs an "
                    "upstream: @pytest.mark.sselab_cassette(upstream=URL) or --sselab-upstream",
                    pytrace=False)
    proxy = RecordingProxyThread(upstream if record else _OFFLINE,
                                 directory if record else None, match=match, prefix=name,
                                 replay=replay, forward=record)
    with proxy:
        yield Cassette(directory, name, mode, proxy, files)
        proxy.flush()
