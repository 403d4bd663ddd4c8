"""Scenarios: YAML files → validated :class:`Scenario` values."""

from .load import builtin_dir, check_paths, load_all, load_dir, load_file, load_text
from .schema import Scenario

__all__ = ["Scenario", "builtin_dir", "check_paths", "load_all", "load_dir", "load_file",
           "load_text"]
