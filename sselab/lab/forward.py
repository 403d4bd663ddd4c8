"""A transparent streaming hop: what the demo lab puts between the browser and a target.

Every read from the target is written to the browser at once, bytes untouched (a compressed
body stays compressed, with its ``Content-Encoding``), so that what the browser sees is what
the chosen path (direct, or a buffering proxy) delivered. When the browser goes away the
handler is cancelled (the lab runs with ``handler_cancellation``) and the target connection is
closed with it, so Stop reaches the app, and through it the simulator.
"""

from __future__ import annotations

import aiohttp
from aiohttp import web

HOP = frozenset({"host", "connection", "keep-alive", "proxy-connection", "te", "trailer",
                 "transfer-encoding", "upgrade", "content-length"})


async def forward(request: web.Request, session: aiohttp.ClientSession,
                  target: str) -> web.StreamResponse:
    """Send ``request`` to ``target`` (a full URL) and stream its answer back."""
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP}
    body = await request.read() if request.can_read_body else None
    try:
        upstream = await session.request(request.method, target, headers=headers, data=body,
                                         allow_redirects=False)
    except aiohttp.ClientError as exc:
        return web.json_response({"error": {"message": f"the lab cannot reach {target}: {exc}",
                                            "field": "path"}}, status=502)
    try:
        out = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        for key, value in upstream.headers.items():
            if key.lower() not in HOP:
                out.headers.add(key, value)
        length = upstream.headers.get("Content-Length")
        if length is not None and length.isdigit() and upstream.status != 304:
            out.content_length = int(length)
        await out.prepare(request)
        try:
            while chunk := await upstream.content.readany():
                await out.write(chunk)
        except aiohttp.ClientPayloadError:  # the path cut the body short: so does the lab
            if request.transport is not None:
                request.transport.close()
            return out
        await out.write_eof()
        return out
    finally:
        upstream.close()
