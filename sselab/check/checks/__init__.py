"""The checks, one module each, registered by name (see ``base.py``)."""

from __future__ import annotations

from ..._plugins import load_plugins
from .base import Check, check, registered


def checks() -> dict[str, Check]:
    """Every registered check by name, in run order."""
    load_plugins(__name__, __path__)
    return dict(sorted(registered().items(), key=lambda kv: (kv[1].order, kv[0])))


__all__ = ["Check", "check", "checks"]
