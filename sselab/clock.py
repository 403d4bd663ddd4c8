"""Every wait in the simulator goes through here, against absolute deadlines.

Deadlines are ``loop.time()`` readings (the monotonic clock). Scheduling against absolute times
(``t0 + k * interval``) rather than relative sleeps keeps a paced stream from drifting: a late
wake-up makes the next gap shorter instead of pushing every later token back.
"""

from __future__ import annotations

import asyncio


def now() -> float:
    return asyncio.get_running_loop().time()


async def sleep_until(deadline: float) -> None:
    """Sleep until ``deadline`` (a ``loop.time()`` reading); return at once if it has passed."""
    loop = asyncio.get_running_loop()
    delay = deadline - loop.time()
    if delay > 0:
        await asyncio.sleep(delay)
