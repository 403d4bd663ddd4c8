"""Toxics, one module per Toxiproxy toxic, registered by wire name (see ``base.py``)."""

from __future__ import annotations

from collections.abc import Mapping

from ..._plugins import load_plugins
from .base import BadAttribute, Channel, Chunk, Stub, Toxic, build, register
from .base import registry as _registry


def toxic_types() -> Mapping[str, type]:
    """Every registered toxic class by wire name (imports this folder's modules on first use)."""
    load_plugins(__name__, __path__)
    return _registry()


__all__ = [
    "BadAttribute", "Channel", "Chunk", "Stub", "Toxic", "build", "register", "toxic_types",
]
