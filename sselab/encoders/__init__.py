"""Wire encoders, one module per provider format, registered by name (see ``base.py``)."""

from __future__ import annotations

from collections.abc import Mapping

from .._plugins import load_plugins
from .base import Frame, Inspection, Item, Lookup, RequestInfo, WireFormat, register
from .base import registry as _registry


def formats() -> Mapping[str, WireFormat]:
    """Every registered wire format by name (imports this folder's modules on first use)."""
    load_plugins(__name__, __path__, skip=("base", "sse_frame"))
    return _registry()


__all__ = ["Frame", "Inspection", "Item", "Lookup", "RequestInfo", "WireFormat", "formats",
           "register"]
