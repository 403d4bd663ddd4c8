"""A record's writes, kept in compact columns, read as a sequence of tuples."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, overload

if TYPE_CHECKING:
    from .recorder import RequestRecord

Write = tuple[float, int, float, float]


class Writes(Sequence[Write]):
    """A record's writes as ``(monotonic time, bytes, seconds draining, seconds late)`` tuples,
    read from its columns. A view: it also sees the writes made after it was taken."""

    __slots__ = ("_rec",)

    def __init__(self, rec: RequestRecord) -> None:
        self._rec = rec

    def __len__(self) -> int:
        return len(self._rec._at)  # noqa: SLF001

    @overload
    def __getitem__(self, i: int) -> Write: ...
    @overload
    def __getitem__(self, i: slice) -> list[Write]: ...
    def __getitem__(self, i: int | slice) -> Write | list[Write]:
        r = self._rec
        if isinstance(i, slice):
            return list(zip(r._at[i], r._nbytes[i], r._drain[i], r._late[i]))  # noqa: SLF001
        return (r._at[i], r._nbytes[i], r._drain[i], r._late[i])  # noqa: SLF001

    def __iter__(self) -> Iterator[Write]:
        r = self._rec
        return zip(r._at, r._nbytes, r._drain, r._late)  # noqa: SLF001

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Writes, list, tuple)):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"Writes({list(self)!r})"
