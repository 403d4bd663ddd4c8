"""The Toxiproxy 2.x HTTP API (routes, JSON shapes, status codes) on aiohttp.

Status codes follow Toxiproxy's ``api.go``: 201 for a created proxy and for ``/populate``, 200
for a created or updated toxic, 204 for deletes and ``/reset``, 400/404/409 with
``{"error": ..., "status": ...}``, 500 when a listen address cannot be bound. Browser user agents
get 403, as in Toxiproxy. Error bodies are sent as ``application/json`` (Toxiproxy labels them
``text/plain``).

Beyond Toxiproxy: bound to loopback (the default), the API answers only requests whose ``Host``
names this machine (``localhost``, an IP address, the bound host): a web page whose name was
rebound to 127.0.0.1 gets 403 (DNS-rebinding protection, as for the simulator's control API).
No answer carries CORS headers. A body nested deeper than Go's decoder allows is a 400.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..server.guard import ControlGuard, is_loopback
from . import errors
from .collection import ProxyCollection

log = logging.getLogger("sselab.toxiproxy")

VERSION = "2.12.0-sselab"  # the Toxiproxy API version emulated
COLLECTION: web.AppKey[ProxyCollection] = web.AppKey("toxiproxy_collection", ProxyCollection)
HOSTS: web.AppKey[ControlGuard | None] = web.AppKey("toxiproxy_hosts")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(obj: Any, status: int = 200) -> web.Response:
    return web.Response(body=errors.to_body(obj), status=status, content_type="application/json")


def _error(err: errors.ApiError) -> web.Response:
    return _json(err.to_json(), err.status)


@web.middleware
async def _middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.headers.get("User-Agent", "").startswith("Mozilla/"):
        return web.Response(text="User agent not allowed\n", status=403)
    hosts = request.app[HOSTS]
    if hosts is not None and not hosts.host_allowed(request.headers.get("Host")):
        return _error(errors.ApiError(
            f"Host {request.headers.get('Host')!r} not allowed: this API answers "
            f"{', '.join(hosts.names())} or an IP address (DNS-rebinding protection)", 403))
    try:
        return await handler(request)
    except errors.ApiError as e:
        return _error(e)
    except web.HTTPException:
        raise  # aiohttp's own 404/405/413
    except Exception as e:  # a bug: answer like Toxiproxy does for untyped errors
        log.exception("%s %s failed", request.method, request.path)
        return _error(errors.ApiError(str(e) or type(e).__name__, 500))


async def _body(request: web.Request) -> Any:
    try:
        return errors.decode_body(await request.read())
    except RecursionError:  # Go's decoder stops at depth 10,000 the same way
        raise errors.bad_request_body("exceeded max depth") from None


def _proxies(request: web.Request) -> ProxyCollection:
    return request.app[COLLECTION]


async def version(request: web.Request) -> web.Response:
    return web.Response(body=f'{{"version": "{VERSION}"}}\n'.encode(),
                        headers={"Content-Type": "application/json;charset=utf-8"})


async def reset(request: web.Request) -> web.Response:
    await _proxies(request).reset()
    return web.Response(status=204)


async def proxy_index(request: web.Request) -> web.Response:
    proxies = _proxies(request).proxies
    return _json({name: p.to_json() for name, p in proxies.items()})


async def proxy_create(request: web.Request) -> web.Response:
    proxy = await _proxies(request).create(await _body(request))
    return _json(proxy.to_json(), 201)


async def populate(request: web.Request) -> web.Response:
    try:
        done, err = await _proxies(request).populate(await _body(request))
    except errors.ApiError as e:
        done, err = [], e
    body: dict[str, Any] = err.to_json() if err is not None else {}
    body["proxies"] = [p.to_json() for p in done] or None  # Go encodes an empty list as null
    return _json(body, err.status if err is not None else 201)


async def proxy_show(request: web.Request) -> web.Response:
    return _json(_proxies(request).get(request.match_info["proxy"]).to_json())


async def proxy_update(request: web.Request) -> web.Response:
    proxies = _proxies(request)
    name = request.match_info["proxy"]
    proxies.get(name)  # 404 before reading the body, as Toxiproxy does
    proxy = await proxies.update(name, await _body(request))
    return _json(proxy.to_json())


async def proxy_delete(request: web.Request) -> web.Response:
    await _proxies(request).remove(request.match_info["proxy"])
    return web.Response(status=204)


async def toxic_index(request: web.Request) -> web.Response:
    proxy = _proxies(request).get(request.match_info["proxy"])
    return _json([spec.to_json() for spec in proxy.toxics.all()])


async def toxic_create(request: web.Request) -> web.Response:
    proxy = _proxies(request).get(request.match_info["proxy"])
    spec = await proxy.toxics.add_json(await _body(request))
    return _json(spec.to_json())


async def toxic_show(request: web.Request) -> web.Response:
    proxy = _proxies(request).get(request.match_info["proxy"])
    spec = proxy.toxics.get(request.match_info["toxic"])
    if spec is None:
        raise errors.toxic_not_found()
    return _json(spec.to_json())


async def toxic_update(request: web.Request) -> web.Response:
    proxy = _proxies(request).get(request.match_info["proxy"])
    name = request.match_info["toxic"]
    if proxy.toxics.get(name) is None:
        raise errors.toxic_not_found()
    spec = await proxy.toxics.update_json(name, await _body(request))
    return _json(spec.to_json())


async def toxic_delete(request: web.Request) -> web.Response:
    proxy = _proxies(request).get(request.match_info["proxy"])
    await proxy.toxics.remove(request.match_info["toxic"])
    return web.Response(status=204)


def make_app(collection: ProxyCollection | None = None, *,
             bound_host: str = "127.0.0.1") -> web.Application:
    """The API; ``bound_host`` (where it listens) decides the Host check: loopback only."""
    app = web.Application(middlewares=[_middleware])
    app[COLLECTION] = collection if collection is not None else ProxyCollection()
    app[HOSTS] = ControlGuard(bound_host) if is_loopback(bound_host) else None
    r = app.router
    r.add_post("/reset", reset)
    r.add_get("/proxies", proxy_index)
    r.add_post("/proxies", proxy_create)
    r.add_post("/populate", populate)
    r.add_get("/proxies/{proxy}", proxy_show)
    r.add_post("/proxies/{proxy}", proxy_update)
    r.add_patch("/proxies/{proxy}", proxy_update)
    r.add_delete("/proxies/{proxy}", proxy_delete)
    r.add_get("/proxies/{proxy}/toxics", toxic_index)
    r.add_post("/proxies/{proxy}/toxics", toxic_create)
    r.add_get("/proxies/{proxy}/toxics/{toxic}", toxic_show)
    r.add_post("/proxies/{proxy}/toxics/{toxic}", toxic_update)
    r.add_patch("/proxies/{proxy}/toxics/{toxic}", toxic_update)
    r.add_delete("/proxies/{proxy}/toxics/{toxic}", toxic_delete)
    r.add_get("/version", version)
    return app
