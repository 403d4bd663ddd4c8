"""Faults and transport shaping, one module per fault, registered by ``type`` name."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Iterator

from ..encoders.base import Item
from .base import Fault, Positioned, fault_types

_loaded = False


def faults() -> dict[str, type[Fault]]:
    """Every registered fault class by its scenario ``type`` name."""
    global _loaded
    if not _loaded:
        for info in pkgutil.iter_modules(__path__):
            if info.name != "base" and not info.name.startswith("_"):
                importlib.import_module(f"{__name__}.{info.name}")
        _loaded = True
    return fault_types()


def shape(items: Iterable[Item], active: Iterable[Fault]) -> Iterator[Item]:
    """Run wire items through every fault's ``shape`` stage, byte splitting last."""
    stream: Iterator[Item] = iter(items)
    for fault in sorted(active, key=lambda f: f.shape_order):
        stream = fault.shape(stream)
    return stream


__all__ = ["Fault", "Positioned", "faults", "shape"]
