"""One module per check, each registered under its name; the package's public API."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import sselab.check as check_pkg
from sselab.check.checks import checks

checks_pkg = importlib.import_module("sselab.check.checks")  # the function shadows it


def test_every_module_registers_one_check() -> None:
    modules = sorted(m.name for m in pkgutil.iter_modules(checks_pkg.__path__)
                     if m.name != "base")
    registry = checks()
    assert sorted(c.run.__module__.rsplit(".", 1)[1] for c in registry.values()) == modules
    for name, c in registry.items():
        assert c.name == name and c.title and c.summary
        assert inspect.iscoroutinefunction(c.run)
        assert name == c.run.__module__.rsplit(".", 1)[1].replace("_", "-")


def test_run_order() -> None:
    orders = [c.order for c in checks().values()]
    assert orders == sorted(orders) and len(set(orders)) == len(orders)


def test_public_api() -> None:
    assert sorted(check_pkg.__all__) == check_pkg.__all__
    for name in check_pkg.__all__:
        assert hasattr(check_pkg, name), name
