"""Run ``sselab serve`` with its garbage-collector pauses measured (for ``bench/soak.py``).

``python bench/_gcprobe.py OUT.json serve ARGS...``: every collection's duration is timed with
``gc.callbacks``; twice a second the worst pause, the count and the time of the worst one are
written to OUT.json (atomically), so the parent reads them while the server runs and after it
stops. The measurement costs two ``perf_counter`` calls per collection.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import threading
import time


def main() -> None:
    out, args = sys.argv[1], sys.argv[2:]
    stats = {"collections": 0, "worst_ms": 0.0, "worst_gen": None, "total_ms": 0.0,
             "over_10ms": 0, "by_gen": {"0": 0, "1": 0, "2": 0}}
    started: list[float] = [0.0]

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        ms = (time.perf_counter() - started[0]) * 1000
        stats["collections"] += 1
        stats["total_ms"] += ms
        stats["by_gen"][str(info.get("generation"))] += 1
        if ms > 10:
            stats["over_10ms"] += 1
        if ms > stats["worst_ms"]:
            stats["worst_ms"], stats["worst_gen"] = ms, info.get("generation")

    def dump() -> None:
        tmp = out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(stats, f)
        os.replace(tmp, out)

    def dumper() -> None:
        while True:
            time.sleep(0.5)
            dump()

    gc.callbacks.append(on_gc)
    threading.Thread(target=dumper, daemon=True).start()
    from sselab.cli import main as sselab_main

    try:
        sselab_main(args, standalone_mode=False)
    finally:
        dump()


if __name__ == "__main__":
    main()
