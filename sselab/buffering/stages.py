"""Reusable body stages (see ``profiles/base.py``): de-framing, hold-everything, compression."""

from __future__ import annotations

import zlib

from ._http import BodyReader
from .profiles.base import Stage


class Deframe:
    """Pass each read through as soon as it is de-framed (Content-Length, chunked or close)."""

    def __init__(self, reader: BodyReader) -> None:
        self.reader = reader

    @property
    def complete(self) -> bool:
        return self.reader.done

    def feed(self, raw: bytes) -> bytes:
        return self.reader.feed(raw)

    def finish(self) -> bytes:
        return b""


class Collect:
    """Hold the whole body and release it only when the upstream is done."""

    def __init__(self, inner: Deframe) -> None:
        self.inner = inner
        self._held = bytearray()

    @property
    def complete(self) -> bool:
        return self.inner.complete

    def feed(self, raw: bytes) -> bytes:
        self._held += self.inner.feed(raw)
        return b""

    def finish(self) -> bytes:
        self._held += self.inner.finish()
        out, self._held = bytes(self._held), bytearray()
        return out


class Gzip:
    """gzip what ``inner`` releases; emit compressed bytes in whole ``unit``-byte buffers.

    ``unit=1`` emits whatever zlib produces (a compression middleware); ``unit=4096`` models
    nginx's gzip filter, which sends an output buffer only once it is full, unless the input was
    flagged to flush (``flush_each``: every read then ends with ``Z_SYNC_FLUSH``, and the gzip
    header goes out, sync-flushed, as soon as the stage is first fed).
    """

    def __init__(self, inner: Stage, *, level: int = 6, unit: int = 1, flush_each: bool = False,
                 mem_level: int = 8) -> None:
        self.inner = inner
        self.unit = unit
        self.flush_each = flush_each
        self._z = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS, mem_level)
        self._pending = bytearray()
        self._started = False

    @property
    def complete(self) -> bool:
        return self.inner.complete

    def _release(self, flush: bool) -> bytes:
        if flush:
            out, self._pending = bytes(self._pending), bytearray()
            return out
        n = len(self._pending) // self.unit * self.unit
        out = bytes(self._pending[:n])
        del self._pending[:n]
        return out

    def feed(self, raw: bytes) -> bytes:
        data = self.inner.feed(raw)
        first, self._started = not self._started, True
        if not data:
            if first and self.flush_each:  # nginx flushes the gzip header out with the head
                self._pending += self._z.flush(zlib.Z_SYNC_FLUSH)
                return self._release(True)
            return self._release(False)
        self._pending += self._z.compress(data)
        if self.flush_each:
            self._pending += self._z.flush(zlib.Z_SYNC_FLUSH)
        return self._release(self.flush_each)

    def finish(self) -> bytes:
        self._pending += self._z.compress(self.inner.finish())
        self._pending += self._z.flush(zlib.Z_FINISH)
        return self._release(True)
