"""The proxy's HTTP/1.1 client reads chunked bodies split anywhere: the framing tells when the
body is complete (not a byte early), and ``dechunk`` gives back each read's body bytes."""

from __future__ import annotations

import random

import pytest

from sselab.record.upstream import Framing, dechunk

BODY = [b"data: {\"a\": 1}\n\n", b"x" * 70000, b"0\r\n\r\n", b"", b"\xe2\x98", b"\x95 tail"]


def chunked(pieces: list[bytes], trailers: bytes = b"") -> bytes:
    out = b"".join(b"%x;ext=1\r\n%b\r\n" % (len(p), p) if i == 1 else b"%x\r\n%b\r\n" % (len(p), p)
                   for i, p in enumerate(pieces) if p)
    return out + b"0\r\n" + trailers + b"\r\n"


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("trailers", [b"", b"X-Trailer: yes\r\n"])
def test_split_anywhere(seed: int, trailers: bytes) -> None:
    wire = chunked(BODY, trailers)
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(wire)), rng.randint(1, 40)))
    reads = [(float(i), wire[a:b]) for i, (a, b) in enumerate(zip([0, *cuts], [*cuts, len(wire)]))]
    framing = Framing("chunked")
    done = [framing.feed(data) for _, data in reads]
    assert done[-1] and not any(done[:-1]), "complete exactly at the last read"
    pieces, complete = dechunk(reads)
    assert complete and b"".join(p for _, p in pieces) == b"".join(BODY)
    assert len({at for at, _ in pieces}) == len(pieces), "one piece per read at most"


def test_incomplete_and_broken() -> None:
    wire = chunked(BODY)
    framing = Framing("chunked")
    assert not framing.feed(wire[:-3])
    assert dechunk([(0.0, wire[:-3])])[1] is False
    bad = Framing("chunked")
    assert not bad.feed(b"zz\r\nhello\r\n0\r\n\r\n") and bad.broken
    length = Framing("length", 10)
    assert not length.feed(b"12345") and length.feed(b"67890")
