"""One direction of one proxied connection: source socket → toxics → destination socket.

With no toxics the link is a *fast path*: ``feed`` writes each read straight to the destination
transport, with no task, queue or timestamp per chunk, and back-pressure is the transports' own
pause/resume. The first toxic added switches it to a *pipeline*: the reader pushes timestamped
chunks into a chain of stages (one task per toxic running its ``pipe``) ending in a writer task.
When the last toxic is removed the writer drains what is queued and the link goes back to the
fast path. Live changes follow Toxiproxy: a new toxic joins the end of the chain; an updated or
removed toxic is interrupted and passes on what it holds first, so no byte already read is lost
or reordered (except where a toxic's semantics drop data).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .toxics.base import Channel, Chunk, Stub
from .toxics.noop import Noop

if TYPE_CHECKING:
    from .toxic_collection import ToxicSpec

log = logging.getLogger("sselab.toxiproxy")

DEFAULT_BUFFER = 4  # chunks queued before a stage applies back-pressure
HEAD_MAX_BYTES = 8 * 1024 * 1024  # stop reading the source past this much queued data
_NOOP = Noop()


class Stage:
    """One toxic on one link: its spec, its stub, and the task running its ``pipe``."""

    def __init__(self, spec: ToxicSpec, stub: Stub) -> None:
        self.spec = spec
        self.stub = stub
        self.active = False
        self.task: asyncio.Task[None] | None = None

    def start(self, roll: bool = True) -> None:
        if roll:  # toxicity: decided once per connection and direction (and again on update)
            self.active = random.random() < self.spec.toxicity
        self.stub.interrupted = False
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        stub = self.stub
        try:
            await (self.spec.toxic if self.active else _NOOP).pipe(stub)
        except Exception:
            log.exception("toxic %r failed; closing its connection", self.spec.name)
            stub.close()
            return
        if not stub.interrupted and not stub.closed:
            stub.close()  # the pipe ended at end of input: pass the end on

    async def interrupt(self) -> None:
        self.stub.interrupt()
        if self.task is not None:
            await asyncio.wait({self.task})  # never raises, even if the task was cancelled
            self.task = None

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.task = None


class Link:
    def __init__(
        self,
        direction: str,
        src: asyncio.Transport,
        dst: asyncio.Transport,
        on_done: Callable[[Link, str], None],
        specs: list[ToxicSpec],
    ) -> None:
        self.direction = direction
        self.src = src
        self.dst = dst
        self.on_done = on_done
        self.done = False
        self.head: Channel | None = None  # None: fast path
        self.out: Channel | None = None  # the writer's channel
        self.stages: list[Stage] = []
        self.writer: asyncio.Task[None] | None = None
        self.dst_paused = False
        self._drain: asyncio.Future[None] | None = None
        self._paused: set[str] = set()
        for spec in specs:
            self.add(spec)

    # -- the reader side (called by the source socket's protocol) --

    def feed(self, data: bytes) -> None:
        head = self.head
        if head is None:
            if not self.done:
                self.dst.write(data)
            return
        head.push(Chunk(data, asyncio.get_running_loop().time()))
        if len(head.items) > head.capacity or head.nbytes >= HEAD_MAX_BYTES:
            self._pause("pipeline")

    def feed_eof(self) -> None:
        if self.done:
            return
        if self.head is None:
            self._finish("eof")
        else:
            self.head.close("eof")

    def _on_head_take(self, ch: Channel) -> None:
        if len(ch.items) <= ch.capacity and ch.nbytes < HEAD_MAX_BYTES:
            self._resume("pipeline")

    def _set_head(self, ch: Channel | None) -> None:
        if self.head is not None:
            self.head.on_take = None
        self.head = ch
        if ch is None:
            self._resume("pipeline")
        else:
            ch.on_take = self._on_head_take
            self._on_head_take(ch)

    def _pause(self, reason: str) -> None:
        if not self._paused:
            self.src.pause_reading()
        self._paused.add(reason)

    def _resume(self, reason: str) -> None:
        if reason in self._paused:
            self._paused.discard(reason)
            if not self._paused and not self.src.is_closing():
                self.src.resume_reading()

    # -- the writer side (called by the destination socket's protocol) --

    def pause_writing(self) -> None:
        self.dst_paused = True
        self._pause("dst")

    def resume_writing(self) -> None:
        self.dst_paused = False
        self._resume("dst")
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    async def _write_loop(self) -> None:
        ch = self.out
        assert ch is not None
        loop = asyncio.get_running_loop()
        while True:
            if ch.items:
                self.dst.write(ch.take().data)
                if self.dst_paused:
                    self._drain = loop.create_future()
                    await self._drain
                if not self.stages and not ch.items and ch.end is None:
                    self._to_fast_path()
                    return
            elif ch.end is not None:
                self._finish(ch.end)
                return
            else:
                ch.getter = loop.create_future()
                try:
                    await ch.getter
                finally:
                    ch.getter = None

    def _to_fast_path(self) -> None:
        self.out = None
        self.writer = None
        self._set_head(None)

    def _finish(self, kind: str) -> None:
        if not self.done:
            self.done = True
            self.on_done(self, kind)

    # -- live toxic changes (called by the proxy's toxic collection, one at a time) --

    def add(self, spec: ToxicSpec) -> None:
        if self.done:
            return
        if self.out is None:  # fast path → pipeline
            self.out = Channel(DEFAULT_BUFFER)
            self._set_head(self.out)
            self.writer = asyncio.get_running_loop().create_task(self._write_loop())
        inp = Channel(getattr(type(spec.toxic), "input_buffer", DEFAULT_BUFFER))
        if self.stages:
            self.stages[-1].stub.output = inp
        else:
            self._set_head(inp)
        stage = Stage(spec, Stub(inp, self.out))
        self.stages.append(stage)
        stage.start()

    async def update(self, spec: ToxicSpec) -> None:
        stage = self._find(spec.name)
        if stage is None or stage.stub.closed:
            return
        await stage.interrupt()
        if not stage.stub.closed and not self.done:
            stage.spec = spec
            stage.start()

    async def remove(self, name: str) -> None:
        stage = self._find(name)
        if stage is None:
            return
        if not stage.stub.closed:
            await stage.interrupt()
        if self.done or stage not in self.stages:
            return
        i = self.stages.index(stage)
        del self.stages[i]
        stub = stage.stub
        if stub.closed:
            return  # this direction already ended through it
        if stage.active and getattr(type(stage.spec.toxic), "close_on_remove", False):
            stub.close()
            return
        stub.input.forward_to(stub.output)  # queued chunks keep their place in the stream
        if i > 0:
            self.stages[i - 1].stub.output = stub.output
        if self.head is stub.input:
            self._set_head(stub.output)
        out = self.out
        if not self.stages and out is not None and not out.items and out.end is None:
            if self.writer is not None:
                self.writer.cancel()  # it holds no data while waiting
            self._to_fast_path()

    def _find(self, name: str) -> Stage | None:
        for stage in self.stages:
            if stage.spec.name == name:
                return stage
        return None

    def stop(self) -> None:
        """Cancel every task of this link (the connection is going away)."""
        self.done = True
        for stage in self.stages:
            stage.cancel()
        if self.writer is not None:
            self.writer.cancel()
            self.writer = None

    def describe(self) -> dict[str, Any]:
        return {"direction": self.direction, "fast_path": self.head is None,
                "toxics": [s.spec.name for s in self.stages]}
