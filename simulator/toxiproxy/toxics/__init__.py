"""Toxics, one module per Toxiproxy toxic, registered by wire name (see ``base.py``)."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping

from .base import BadAttribute, Channel, Chunk, Stub, Toxic, build, register
from .base import registry as _registry

_loaded = False


def toxic_types() -> Mapping[str, type]:
    """Every registered toxic class by wire name (imports this folder's modules on first use)."""
    global _loaded
    if not _loaded:
        for info in pkgutil.iter_modules(__path__):
            if info.name != "base" and not info.name.startswith("_"):
                importlib.import_module(f"{__name__}.{info.name}")
        _loaded = True
    return _registry()


__all__ = [
    "BadAttribute", "Channel", "Chunk", "Stub", "Toxic", "build", "register", "toxic_types",
]
