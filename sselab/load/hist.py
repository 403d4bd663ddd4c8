"""A small mergeable histogram: what workers send their master, and what percentiles come from.

Values are bucketed to about 2 significant digits (0.1 ms steps below 10 ms, 1 ms below 100 ms,
10 ms below 1 s, ...: at most ~5 % off), so a run's memory and its reports to the master stay
the same size however many values it records. Keys are integers (msgpack, which Locust's
master/worker protocol uses, wants integer or string map keys; the wire form is a list).
"""

from __future__ import annotations

from dataclasses import dataclass, field


def bucket(value: float) -> int:
    """``value`` (>= 0) rounded to its resolution, in tenths."""
    tenths = max(0.0, value) * 10
    step = 1
    while tenths >= step * 100:
        step *= 10
    return int(round(tenths / step)) * step


@dataclass
class Hist:
    """Counts of bucketed values. ``exact``: integer values kept as they are (counts)."""

    exact: bool = False
    counts: dict[int, int] = field(default_factory=dict)

    def add(self, value: float, n: int = 1) -> None:
        key = int(value) if self.exact else bucket(value)
        self.counts[key] = self.counts.get(key, 0) + n

    def merge(self, other: Hist) -> None:
        for k, n in other.counts.items():
            self.counts[k] = self.counts.get(k, 0) + n

    def value_of(self, key: int) -> float:
        return float(key) if self.exact else key / 10

    @property
    def count(self) -> int:
        return sum(self.counts.values())

    def percentile(self, q: float) -> float | None:
        """The smallest recorded value with at least ``q`` of the values at or below it."""
        total = self.count
        if not total:
            return None
        need, seen = q * total, 0
        for key in sorted(self.counts):
            seen += self.counts[key]
            if seen >= need:
                return self.value_of(key)
        return self.value_of(max(self.counts))

    @property
    def max(self) -> float | None:
        return self.value_of(max(self.counts)) if self.counts else None

    @property
    def mean(self) -> float | None:
        total = self.count
        if not total:
            return None
        return sum(self.value_of(k) * n for k, n in self.counts.items()) / total

    def figures(self, digits: int = 1) -> dict[str, float | int | None]:
        """count, p50, p90, p99, max (and mean)."""
        def r(v: float | None) -> float | None:
            return None if v is None else round(v, digits)

        return {"count": self.count, "p50": r(self.percentile(0.5)),
                "p90": r(self.percentile(0.9)), "p99": r(self.percentile(0.99)),
                "max": r(self.max), "mean": r(self.mean)}

    def to_wire(self) -> list[list[int]]:
        return [[k, n] for k, n in sorted(self.counts.items())]

    @classmethod
    def from_wire(cls, data: list[list[int]], exact: bool = False) -> Hist:
        h = cls(exact)
        for k, n in data:
            h.counts[int(k)] = h.counts.get(int(k), 0) + int(n)
        return h
