"""The one loader behind every plug-in folder (formats, faults, toxics, profiles, checks).

Each folder's modules register themselves by name when imported; its ``__init__`` calls
:func:`load_plugins` before reading the registry, so adding a plug-in is adding one file.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable

_loaded: set[str] = set()


def load_plugins(package: str, path: Iterable[str], skip: Iterable[str] = ("base",)) -> None:
    """Import every module of ``package`` once, but those in ``skip`` and ``_private`` ones."""
    if package in _loaded:
        return
    skipped = set(skip)
    for info in pkgutil.iter_modules(list(path)):
        if info.name not in skipped and not info.name.startswith("_"):
            importlib.import_module(f"{package}.{info.name}")
    _loaded.add(package)
