"""Buffering profiles, one module per middlebox, registered by name (see ``base.py``)."""

from __future__ import annotations

from collections.abc import Mapping

from ..._plugins import load_plugins
from .base import Behaviour, Plan, Profile, RequestInfo, Stage, register
from .base import registry as _registry


def profiles() -> Mapping[str, Profile]:
    """Every registered profile by name (imports this folder's modules on first use)."""
    load_plugins(__name__, __path__)
    return _registry()


def get_profile(name: str) -> Profile:
    """The profile called ``name``; a ``KeyError`` naming the known ones otherwise."""
    known = profiles()
    if name not in known:
        raise KeyError(f"unknown buffering profile {name!r}; known: {', '.join(sorted(known))}")
    return known[name]


__all__ = ["Behaviour", "Plan", "Profile", "RequestInfo", "Stage", "get_profile", "profiles",
           "register"]
