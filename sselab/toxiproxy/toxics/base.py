"""The one interface every toxic implements, the stub it runs on, and the registry of toxics.

A toxic is a small dataclass whose fields *are* its JSON ``attributes`` (all integers, as in
Toxiproxy) plus one ``async def pipe(self, stub)``. It reads timestamped :class:`Chunk` values
from the stub and sends chunks on; the runner (``link.py``) does the rest:

- ``toxicity`` is rolled once per connection and direction by the runner, never by a toxic;
- the runner ends the stream after ``pipe`` returns at end of input, so a toxic only calls
  :meth:`Stub.close` / :meth:`Stub.reset` when it ends the connection *early*;
- every wait on the stub (``recv``, ``sleep``, ``send``'s back-pressure) returns early when the
  toxic is interrupted (updated or removed live). ``async for chunk in stub`` stops then, so a
  toxic only has to send what it already holds ("never drop data already read") and return.

Adding a toxic is one new module in this folder calling :func:`register`; ``toxic_types()``
imports them all on first use.
"""

from __future__ import annotations

import asyncio
import dataclasses
import typing
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Protocol

INT64_MAX = 2**63 - 1


@dataclasses.dataclass(slots=True)
class Chunk:
    """Bytes read from one side, stamped with the event-loop time they arrived."""

    data: bytes
    at: float


class Channel:
    """FIFO of chunks between two pipeline stages, with a sticky end-of-stream.

    ``push`` never waits; a producer that must respect ``capacity`` waits afterwards (see
    :meth:`Stub.send`), so a chunk is never held in flight by a blocked send. ``end`` is the kind
    of end-of-stream (``"eof"``, ``"close"`` or ``"reset"``) and is seen after every queued item.
    A removed stage's input is *forwarded* to its output: queued items move over in order and
    later pushes land there too.
    """

    __slots__ = ("items", "capacity", "end", "forward", "nbytes", "getter", "space", "on_take")

    def __init__(self, capacity: int = 4) -> None:
        self.items: deque[Chunk] = deque()
        self.capacity = capacity
        self.end: str | None = None
        self.forward: Channel | None = None
        self.nbytes = 0
        self.getter: asyncio.Future[None] | None = None
        self.space: asyncio.Future[None] | None = None
        self.on_take: Callable[[Channel], None] | None = None

    def resolve(self) -> Channel:
        ch = self
        while ch.forward is not None:
            ch = ch.forward
        return ch

    def push(self, chunk: Chunk) -> None:
        ch = self.resolve()
        if ch.end is not None:
            return  # the consumer has ended this stream; nothing downstream reads it any more
        ch.items.append(chunk)
        ch.nbytes += len(chunk.data)
        _wake(ch.getter)

    def close(self, kind: str = "eof") -> None:
        ch = self.resolve()
        if ch.end is None:
            ch.end = kind
            _wake(ch.getter)

    def take(self) -> Chunk:
        chunk = self.items.popleft()
        self.nbytes -= len(chunk.data)
        if len(self.items) <= self.capacity:
            _wake(self.space)
        if self.on_take is not None:
            self.on_take(self)
        return chunk

    def forward_to(self, other: Channel) -> None:
        """Move everything queued here (and the end, if any) to ``other``; forward later pushes."""
        while self.items:
            other.push(self.take())
        if self.end is not None:
            other.close(self.end)
        self.forward = other
        _wake(self.space)

    def __len__(self) -> int:
        return len(self.items)


def _wake(fut: asyncio.Future[None] | None) -> None:
    if fut is not None and not fut.done():
        fut.set_result(None)


class Stub:
    """What a toxic's ``pipe`` runs on: one stage of one direction of one connection."""

    __slots__ = ("input", "output", "state", "interrupted", "closed", "at_eof", "_waiter", "_loop")

    def __init__(self, input: Channel, output: Channel) -> None:
        self.input = input
        self.output = output
        self.state: dict[str, Any] = {}  # per connection; survives updates and interrupts
        self.interrupted = False
        self.closed = False
        self.at_eof = False
        self._waiter: asyncio.Future[None] | None = None
        self._loop = asyncio.get_running_loop()

    def now(self) -> float:
        return self._loop.time()

    def __aiter__(self) -> Stub:
        return self

    async def __anext__(self) -> Chunk:
        chunk = await self.recv()
        if chunk is None:
            raise StopAsyncIteration
        return chunk

    async def recv(self, deadline: float | None = None) -> Chunk | None:
        """The next chunk; None at end of input (``at_eof``), on interrupt or at ``deadline``."""
        while not (self.interrupted or self.closed):
            ch = self.input
            if ch.items:
                return ch.take()
            if ch.end is not None:
                self.at_eof = True
                return None
            if deadline is not None and self._loop.time() >= deadline:
                return None
            ch.getter = self._park(deadline)
            try:
                await ch.getter
            finally:
                ch.getter = self._waiter = None
        return None

    async def sleep_until(self, when: float) -> bool:
        """Wait until loop time ``when``; False if interrupted first."""
        while not self.interrupted:
            if self._loop.time() >= when:
                return True
            try:
                await self._park(when)
            finally:
                self._waiter = None
        return False

    async def sleep(self, seconds: float) -> bool:
        return await self.sleep_until(self._loop.time() + seconds)

    async def send(self, chunk: Chunk) -> None:
        """Queue ``chunk`` for the next stage, then wait while that stage is over capacity."""
        out = self.output
        out.push(chunk)
        ch = out.resolve()
        while len(ch.items) > ch.capacity and ch.end is None and not self.interrupted:
            ch.space = self._park(None)
            try:
                await ch.space
            finally:
                ch.space = self._waiter = None
            ch = out.resolve()

    def close(self) -> None:
        """End this direction: a half-close after end of input, else close the connection."""
        if not self.closed:
            self.closed = True
            self.output.close("eof" if self.at_eof else "close")

    def reset(self) -> None:
        """End the connection with a TCP RST on both sides."""
        if not self.closed:
            self.closed = True
            self.output.close("reset")

    def interrupt(self) -> None:
        self.interrupted = True
        _wake(self._waiter)

    def _park(self, deadline: float | None) -> asyncio.Future[None]:
        fut = self._loop.create_future()
        if deadline is not None:
            handle = self._loop.call_at(deadline, _wake, fut)
            fut.add_done_callback(lambda _: handle.cancel())
        self._waiter = fut
        return fut


class Toxic(Protocol):
    """A toxic's shape. ``wire_name`` is set by :func:`register`."""

    wire_name: ClassVar[str]

    async def pipe(self, stub: Stub) -> None: ...


_REGISTRY: dict[str, type] = {}


def register(wire_name: str) -> Callable[[type], type]:
    """Class decorator: register a toxic dataclass under its Toxiproxy type name."""

    def deco(cls: type) -> type:
        if wire_name in _REGISTRY:
            raise ValueError(f"toxic {wire_name!r} is registered twice")
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"toxic {wire_name!r} must be a dataclass")
        cls.wire_name = wire_name  # type: ignore[attr-defined]
        _REGISTRY[wire_name] = cls
        return cls

    return deco


def registry() -> Mapping[str, type]:
    return dict(_REGISTRY)


class BadAttribute(ValueError):
    """A bad value in a toxic's ``attributes``; the message names the field."""


def build(cls: type, attributes: Any, base: Any = None) -> Any:
    """A toxic of type ``cls`` from JSON ``attributes``, keeping ``base``'s values for fields not
    given (as Toxiproxy's update does). Unknown keys are ignored and ``null`` keeps the old value,
    as Go's JSON decoder does.

    Deliberate difference: Toxiproxy accepts negative values (and misbehaves with them); sselab
    rejects them with a 400 naming the field.
    """
    if attributes is None:
        attributes = {}
    if not isinstance(attributes, Mapping):
        raise BadAttribute(f"attributes must be a JSON object, not {_json_type(attributes)}")
    values = dataclasses.asdict(base) if base is not None else {}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        raw = attributes.get(f.name)
        if raw is None:
            continue
        if hints.get(f.name) is int:
            if isinstance(raw, bool) or not isinstance(raw, int):
                raise BadAttribute(
                    f"attributes.{f.name} must be an integer, not {_json_type(raw)}")
            if raw < 0:
                raise BadAttribute(f"attributes.{f.name} must be >= 0 (got {raw})")
            if raw > INT64_MAX:
                raise BadAttribute(f"attributes.{f.name} is too large (got {raw})")
        values[f.name] = raw
    return cls(**values)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
