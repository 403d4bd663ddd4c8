"""The registry is the folder: one module per toxic, each registered under Toxiproxy's name."""

import dataclasses
import pkgutil

import pytest

import sselab.toxiproxy.toxics as toxics_pkg
from sselab.toxiproxy.toxics import BadAttribute, build, toxic_types

TOXIPROXY_TOXICS = {"noop", "latency", "bandwidth", "slow_close", "timeout", "reset_peer",
                    "slicer", "limit_data"}


def test_registry_matches_the_folder():
    modules = {m.name for m in pkgutil.iter_modules(toxics_pkg.__path__)} - {"base"}
    assert set(toxic_types()) == modules == TOXIPROXY_TOXICS
    for name, cls in toxic_types().items():
        assert cls.wire_name == name and dataclasses.is_dataclass(cls)
        assert cls.__module__.endswith("." + name)


def test_attributes_are_ints_with_defaults_zero():
    for cls in toxic_types().values():
        assert all(v == 0 for v in dataclasses.asdict(cls()).values())


def test_build_defaults_update_and_unknown_keys():
    latency = toxic_types()["latency"]
    t = build(latency, {"latency": 100, "unknown": "ignored"})
    assert (t.latency, t.jitter) == (100, 0)
    t2 = build(latency, {"jitter": 5, "latency": None}, base=t)  # null keeps the old value
    assert (t2.latency, t2.jitter) == (100, 5)
    assert build(latency, None) == latency()


@pytest.mark.parametrize(("attributes", "message"), [
    ({"latency": -1}, "attributes.latency must be >= 0 (got -1)"),
    ({"latency": "5"}, "attributes.latency must be an integer, not a string"),
    ({"latency": 1.5}, "attributes.latency must be an integer, not the number 1.5"),
    ({"latency": True}, "attributes.latency must be an integer, not a boolean"),
    ({"latency": 2**63}, "attributes.latency is too large"),
    ([1], "attributes must be a JSON object, not an array"),
])
def test_build_rejects_bad_values_naming_the_field(attributes, message):
    with pytest.raises(BadAttribute, match=message.replace("(", r"\(").replace(")", r"\)")):
        build(toxic_types()["latency"], attributes)
