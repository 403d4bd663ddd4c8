"""Wire encoders, one module per provider format, registered by name (see ``base.py``)."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping

from .base import Frame, Inspection, Item, RequestInfo, WireFormat, register
from .base import registry as _registry

_NOT_FORMATS = {"base", "sse_frame"}
_loaded = False


def formats() -> Mapping[str, WireFormat]:
    """Every registered wire format by name (imports this folder's modules on first use)."""
    global _loaded
    if not _loaded:
        for info in pkgutil.iter_modules(__path__):
            if info.name not in _NOT_FORMATS and not info.name.startswith("_"):
                importlib.import_module(f"{__name__}.{info.name}")
        _loaded = True
    return _registry()


__all__ = ["Frame", "Inspection", "Item", "RequestInfo", "WireFormat", "formats", "register"]
