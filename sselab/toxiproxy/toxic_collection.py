"""A proxy's toxics: one ordered chain per direction, applied to every live link.

Mirrors Toxiproxy's ``toxic_collection.go``: the JSON shapes, defaults (``stream`` downstream,
``toxicity`` 1, ``name`` ``<type>_<stream>``), the order of checks and their errors. Listing
gives upstream toxics first, then downstream, each in the order they were added.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import errors
from .toxics import BadAttribute, build, toxic_types

if TYPE_CHECKING:
    from .link import Link

DIRECTIONS = ("upstream", "downstream")


@dataclass
class ToxicSpec:
    """One toxic as configured through the API."""

    name: str
    type: str
    stream: str  # as the client spelled it
    direction: str  # "upstream" or "downstream"
    toxicity: float
    toxic: Any  # the toxic dataclass; its fields are the JSON attributes

    def to_json(self) -> dict[str, Any]:
        return {
            "attributes": dataclasses.asdict(self.toxic),
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
        }


def _toxicity(body: dict[str, Any], default: float) -> float:
    value = float(errors.field(body, "toxicity", float, default))
    if not 0.0 <= value <= 1.0:
        # Deliberate difference: Toxiproxy stores any number here.
        raise errors.bad_request_body(f"toxicity must be between 0 and 1 (got {value:g})")
    return value


def parse_new_toxic(body: Any, taken: Callable[[str], bool] = lambda name: False) -> ToxicSpec:
    """A new toxic from a ``POST /proxies/{proxy}/toxics`` body; ``taken(name)`` is a conflict."""
    if not isinstance(body, dict):
        raise errors.bad_request_body(f"a toxic must be a JSON object, not {errors.describe(body)}")
    name = errors.field(body, "name", str, "")
    type_ = errors.field(body, "type", str, "")
    stream = errors.field(body, "stream", str, "downstream")
    toxicity = _toxicity(body, 1.0)
    direction = stream.lower()
    if direction not in DIRECTIONS:
        raise errors.invalid_stream()
    if not name:
        name = f"{type_}_{stream}"
    cls = toxic_types().get(type_)
    if cls is None:
        raise errors.invalid_toxic_type()
    if taken(name):
        raise errors.toxic_already_exists()
    return ToxicSpec(name, type_, stream, direction, toxicity, _attributes(cls, body, None))


def _attributes(cls: type, body: dict[str, Any], base: Any) -> Any:
    try:
        return build(cls, body.get("attributes"), base)
    except BadAttribute as e:
        raise errors.bad_request_body(str(e)) from None


class ToxicCollection:
    def __init__(self) -> None:
        self.chain: dict[str, list[ToxicSpec]] = {d: [] for d in DIRECTIONS}
        self.links: dict[str, set[Link]] = {d: set() for d in DIRECTIONS}
        self.lock = asyncio.Lock()  # one change at a time, applied to every live link

    def all(self) -> list[ToxicSpec]:
        return [spec for d in DIRECTIONS for spec in self.chain[d]]

    def get(self, name: str) -> ToxicSpec | None:
        for spec in self.all():
            if spec.name == name:
                return spec
        return None

    def attach(self, link: Link) -> None:
        self.links[link.direction].add(link)

    def detach(self, link: Link) -> None:
        self.links[link.direction].discard(link)

    async def add_json(self, body: Any) -> ToxicSpec:
        async with self.lock:
            spec = parse_new_toxic(body, lambda name: self.get(name) is not None)
            self.chain[spec.direction].append(spec)
            for link in list(self.links[spec.direction]):
                link.add(spec)
            return spec

    async def update_json(self, name: str, body: Any) -> ToxicSpec:
        async with self.lock:
            old = self.get(name)
            if old is None:
                raise errors.toxic_not_found()
            if not isinstance(body, dict):
                raise errors.bad_request_body(
                    f"a toxic update must be a JSON object, not {errors.describe(body)}")
            toxic = _attributes(type(old.toxic), body, old.toxic)
            spec = dataclasses.replace(old, toxic=toxic, toxicity=_toxicity(body, old.toxicity))
            chain = self.chain[spec.direction]
            chain[chain.index(old)] = spec
            await _each(link.update(spec) for link in list(self.links[spec.direction]))
            return spec

    async def remove(self, name: str) -> None:
        async with self.lock:
            spec = self.get(name)
            if spec is None:
                raise errors.toxic_not_found()
            await self._remove(spec)

    async def reset(self) -> None:
        async with self.lock:
            for spec in self.all():
                await self._remove(spec)

    async def _remove(self, spec: ToxicSpec) -> None:
        self.chain[spec.direction].remove(spec)
        await _each(link.remove(spec.name) for link in list(self.links[spec.direction]))


async def _each(coros: Any) -> None:
    tasks = list(coros)
    if tasks:
        await asyncio.gather(*tasks)
