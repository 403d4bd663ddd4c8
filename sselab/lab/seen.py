"""The last few dozen requests as the simulator's handler saw them, for the lab's byte log.

The handler hands its :class:`~sselab.encoders.RequestInfo` over as soon as it makes it
(:func:`sselab.lab.remember`); the handler fills it in afterwards (body, model, stream), so what
is kept is exactly what the encoder read. When a request finishes its conversation is dropped
(``messages``, ``input``, ``contents``, ``prompt``, ``system``: the request's text, which no
encoder writes back), so that the store stays small whatever the clients send.
"""

from __future__ import annotations

from collections import OrderedDict

from ..encoders import RequestInfo
from ..server.recorder import RequestRecord

KEEP = 64
CONVERSATION = ("messages", "input", "contents", "prompt", "system")


class Seen:
    def __init__(self, keep: int = KEEP) -> None:
        self.keep_count = keep
        self._infos: OrderedDict[str, RequestInfo] = OrderedDict()

    def keep(self, req: RequestInfo) -> None:
        self._infos[req.request_id] = req
        while len(self._infos) > self.keep_count:
            self._infos.popitem(last=False)

    def get(self, request_id: str) -> RequestInfo | None:
        return self._infos.get(request_id)

    def on_event(self, event: str, rec: RequestRecord | None) -> None:
        """A recorder subscriber: compact a finished request's body; forget all on reset."""
        if event == "reset":
            self._infos.clear()
        elif event == "finish" and rec is not None:
            req = self._infos.get(rec.id)
            if req is not None and any(k in req.body for k in CONVERSATION):
                req.body = {k: v for k, v in req.body.items() if k not in CONVERSATION}
