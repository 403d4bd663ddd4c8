"""Buffering profiles, one module per middlebox, registered by name (see ``base.py``)."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping

from .base import Behaviour, Plan, Profile, RequestInfo, Stage, register
from .base import registry as _registry

_NOT_PROFILES = {"base"}
_loaded = False


def profiles() -> Mapping[str, Profile]:
    """Every registered profile by name (imports this folder's modules on first use)."""
    global _loaded
    if not _loaded:
        for info in pkgutil.iter_modules(__path__):
            if info.name not in _NOT_PROFILES and not info.name.startswith("_"):
                importlib.import_module(f"{__name__}.{info.name}")
        _loaded = True
    return _registry()


def get_profile(name: str) -> Profile:
    """The profile called ``name``; a ``KeyError`` naming the known ones otherwise."""
    known = profiles()
    if name not in known:
        raise KeyError(f"unknown buffering profile {name!r}; known: {', '.join(sorted(known))}")
    return known[name]


__all__ = ["Behaviour", "Plan", "Profile", "RequestInfo", "Stage", "get_profile", "profiles",
           "register"]
