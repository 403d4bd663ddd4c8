"""Timeline pictures: the data (:mod:`.model`) and its one drawing (:mod:`.svg`), used by the
check report and by the lab."""

from __future__ import annotations

from .model import Lane, Marker, Span, Timeline
from .svg import render

__all__ = ["Lane", "Marker", "Span", "Timeline", "render"]
