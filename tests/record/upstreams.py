"""Upstreams to record from, written without sselab's encoders: a raw-socket HTTP/1.1 server
that writes a planned answer in uneven pieces with pauses (and may end it with a FIN or an RST),
and an sse-starlette app served by uvicorn (a third-party SSE serializer: CRLF line ends)."""

from __future__ import annotations

import asyncio
import json
import select
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Answer:
    """What the raw upstream sends: the head, then each piece after its pause, then the end."""

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=lambda: [
        ("Content-Type", "text/event-stream; charset=utf-8"), ("x-request-id", "req_raw_1")])
    pieces: list[tuple[float, bytes]] = field(default_factory=list)  # (pause before, bytes)
    end: str = "eof"  # eof | close (FIN mid-body) | reset (RST) | reset_before (no response)
    chunked: bool = True


@dataclass
class Wrote:
    at: float  # time.monotonic() right after the piece was handed to the kernel
    data: bytes


@dataclass
class RawUpstream:
    """Each request gets ``answer(request_bytes)``; ``log`` keeps every piece written and
    ``closed_by_peer`` when the proxy closed the connection while the answer was going on."""

    answer: Callable[[bytes], Answer]
    tls: ssl.SSLContext | None = None
    log: list[list[Wrote]] = field(default_factory=list)
    requests: list[bytes] = field(default_factory=list)
    closed_by_peer: list[float] = field(default_factory=list)
    port: int = 0
    _sock: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> RawUpstream:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._sock is not None:
            self._sock.close()

    def __enter__(self) -> RawUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept(self) -> None:
        assert self._sock is not None
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            conn = self.tls.wrap_socket(raw, server_side=True) if self.tls else raw
        except (ssl.SSLError, OSError):
            raw.close()
            return
        try:
            request = _read_request(conn)
            if request is None:
                return
            self.requests.append(request)
            self._answer(conn, self.answer(request))
        except OSError:
            pass
        finally:
            conn.close()

    def _answer(self, conn: socket.socket, a: Answer) -> None:
        if a.end == "reset_before":
            _rst(conn)
            return
        head = f"HTTP/1.1 {a.status} X\r\n" + "".join(f"{k}: {v}\r\n" for k, v in a.headers)
        if a.chunked:
            head += "Transfer-Encoding: chunked\r\n"
        else:
            head += f"Content-Length: {sum(len(p) for _, p in a.pieces)}\r\n"
        conn.sendall((head + "Connection: close\r\n\r\n").encode())
        wrote: list[Wrote] = []
        self.log.append(wrote)
        for pause, piece in a.pieces:
            if pause and self._peer_closed(conn, pause):
                self.closed_by_peer.append(time.monotonic())
                return
            conn.sendall(b"%x\r\n%b\r\n" % (len(piece), piece) if a.chunked else piece)
            wrote.append(Wrote(time.monotonic(), piece))
        if a.end == "eof":
            if a.chunked:
                conn.sendall(b"0\r\n\r\n")
            time.sleep(0.05)
        elif a.end == "reset":
            time.sleep(0.02)
            _rst(conn)

    @staticmethod
    def _peer_closed(conn: socket.socket, wait: float) -> bool:
        """Sleep ``wait`` seconds, or less if the peer closes the connection meanwhile."""
        readable, _, _ = select.select([conn], [], [], wait)
        if not readable:
            return False
        try:
            if isinstance(conn, ssl.SSLSocket):
                return conn.recv(1) == b""
            return conn.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True


def _rst(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _read_request(conn: socket.socket) -> bytes | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def request_json(request: bytes) -> dict:
    return json.loads(request.partition(b"\r\n\r\n")[2] or b"{}")


# --- an OpenAI chat stream, written by hand -------------------------------------------------
TEXT = "Héllo, wörld ☕ — café 🌍 done."


def openai_events(text: str = TEXT, model: str = "gpt-4o-mini", words: int | None = None
                  ) -> list[bytes]:
    """``data:`` events of a chat.completion.chunk stream carrying ``text``, then [DONE]."""
    head = {"id": "chatcmpl-raw1", "object": "chat.completion.chunk", "created": 1700000000,
            "model": model}

    def chunk(delta: dict, finish: str | None = None) -> bytes:
        body = {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return b"data: " + json.dumps(body, ensure_ascii=False).encode() + b"\n\n"

    parts = text.split(" ")
    tokens = [p if i == 0 else " " + p for i, p in enumerate(parts)][:words]
    return ([chunk({"role": "assistant", "content": ""})]
            + [chunk({"content": t}) for t in tokens]
            + [chunk({}, "stop"), b"data: [DONE]\n\n"])


def uneven(stream: bytes, sizes: list[int]) -> list[bytes]:
    """Cut ``stream`` into pieces of the given sizes (cycled); the rest is the last piece."""
    out, pos, i = [], 0, 0
    while pos < len(stream):
        n = sizes[i % len(sizes)]
        out.append(stream[pos:pos + n])
        pos += n
        i += 1
    return out


def cut_inside_a_character(stream: bytes, pieces: list[bytes]) -> list[bytes]:
    """Move one boundary so that it falls inside the first multi-byte character."""
    whole = b"".join(pieces)
    at = whole.index("☕".encode()) + 1  # one byte into a three-byte character
    bounds, pos = [], 0
    for p in pieces[:-1]:
        pos += len(p)
        bounds.append(pos)
    if bounds:
        bounds[min(range(len(bounds)), key=lambda i: abs(bounds[i] - at))] = at
    else:
        bounds = [at]
    bounds = sorted(set(bounds))
    edges = [0, *bounds, len(whole)]
    return [whole[a:b] for a, b in zip(edges, edges[1:]) if b > a]


def openai_answer(pauses: list[float], sizes: list[int], *, text: str = TEXT,
                  tail: list[bytes] | None = None, end: str = "eof") -> Answer:
    events = openai_events(text)
    if tail is not None:  # replace the finish and [DONE] by these events
        events = events[:-2] + tail
    pieces = cut_inside_a_character(b"".join(events), uneven(b"".join(events), sizes))
    return Answer(pieces=[(pauses[i % len(pauses)], p) for i, p in enumerate(pieces)], end=end)


# --- TLS ----------------------------------------------------------------------------------------
def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made with ``cryptography``."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sselab test upstream")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "upstream.crt", directory / "upstream.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def server_tls(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert), str(key))
    return ctx


# --- sse-starlette ------------------------------------------------------------------------------
ANTHROPIC_TEXT = ["Bonjour", " — ", "ça", " va", " très", " bien", " ☀️"]


def anthropic_app(pause: float = 0.04):  # noqa: ANN201 - a Starlette app
    """``POST /v1/messages``: an Anthropic Messages stream, one sse-starlette event per SSE
    event, ``pause`` seconds apart."""
    from sse_starlette.sse import EventSourceResponse
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.routing import Route

    async def events(model: str) -> Iterator[dict]:  # type: ignore[misc]
        def ev(obj: dict) -> dict:
            return {"event": obj["type"], "data": json.dumps(obj, ensure_ascii=False)}

        yield ev({"type": "message_start", "message": {
            "id": "msg_01starlette", "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 9, "output_tokens": 1}}})
        await asyncio.sleep(pause)
        yield ev({"type": "content_block_start", "index": 0,
                  "content_block": {"type": "text", "text": ""}})
        for text in ANTHROPIC_TEXT:
            await asyncio.sleep(pause)
            yield ev({"type": "content_block_delta", "index": 0,
                      "delta": {"type": "text_delta", "text": text}})
        await asyncio.sleep(pause)
        yield ev({"type": "content_block_stop", "index": 0})
        yield ev({"type": "message_delta", "delta": {"stop_reason": "end_turn",
                                                     "stop_sequence": None},
                  "usage": {"output_tokens": len(ANTHROPIC_TEXT)}})
        yield ev({"type": "message_stop"})

    async def messages(request: Request) -> EventSourceResponse:
        body = await request.json()
        return EventSourceResponse(events(body.get("model", "claude")),
                                   headers={"request-id": "req_starlette"}, ping=600)

    return Starlette(routes=[Route("/v1/messages", messages, methods=["POST"])])


@contextmanager
def uvicorn_server(app: object) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free port of 127.0.0.1, in a thread; yields its URL."""
    import uvicorn

    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])),
                              daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
