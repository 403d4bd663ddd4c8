"""Faults and transport shaping, one module per fault, registered by ``type`` name."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from .._plugins import load_plugins
from ..encoders.base import Item
from .base import Fault, Positioned, fault_types


def faults() -> dict[str, type[Fault]]:
    """Every registered fault class by its scenario ``type`` name."""
    load_plugins(__name__, __path__)
    return fault_types()


def shape(items: Iterable[Item], active: Iterable[Fault]) -> Iterator[Item]:
    """Run wire items through every fault's ``shape`` stage, byte splitting last."""
    stream: Iterator[Item] = iter(items)
    for fault in sorted(active, key=lambda f: f.shape_order):
        stream = fault.shape(stream)
    return stream


__all__ = ["Fault", "Positioned", "faults", "shape"]
