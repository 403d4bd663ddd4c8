"""The checks, one module each, registered by name (see ``base.py``)."""

from __future__ import annotations

import importlib
import pkgutil

from .base import Check, check, registered

_loaded = False


def checks() -> dict[str, Check]:
    """Every registered check by name, in run order."""
    global _loaded
    if not _loaded:
        for info in pkgutil.iter_modules(__path__):
            if info.name != "base" and not info.name.startswith("_"):
                importlib.import_module(f"{__name__}.{info.name}")
        _loaded = True
    return dict(sorted(registered().items(), key=lambda kv: (kv[1].order, kv[0])))


__all__ = ["Check", "check", "checks"]
