"""Record a real provider's stream once, replay it byte for byte (``sselab record``).

- :mod:`.proxy`: the recording reverse proxy; :mod:`.api`: :class:`RecordingProxy` and
  :class:`RecordingProxyThread` to run it from Python;
- :mod:`.cassette` and :mod:`.schema`: the recording file (a scenario with a ``recording:``
  section) written and read back; :mod:`.redact`: secrets out first;
- :mod:`.match` and :mod:`.replay`: which recording a request gets, served as it was;
- :mod:`.decode`: a recording back into the timed script of abstract events, so faults and
  other wire formats apply to it;
- :mod:`.pytest_cassette`: the ``sselab_cassette`` fixture (vcrpy-style record modes).
"""

from __future__ import annotations

from typing import Any

__all__ = ["RecordingProxy", "RecordingProxyThread"]


def __getattr__(name: str) -> Any:  # the proxy is loaded only when asked for
    if name in __all__:
        from . import api

        return getattr(api, name)
    raise AttributeError(name)
