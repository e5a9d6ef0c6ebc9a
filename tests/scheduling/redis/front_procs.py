"""A process that uses the Redis scheduler directly, beside a daemon fronting the same Redis:
makes COUNT calls on ``llm`` (capacity 1), each held HOLD_S seconds, and writes each call's
interval (``time.monotonic()``, the same clock in every process here) to OUT.

Usage: python -m tests.scheduling.redis.front_procs URL OUT COUNT HOLD_S
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from tests.scheduling.redis.helpers import ONE, host


def main() -> None:
    url, out, count, hold_s = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    scheduler = host(url, ONE)
    intervals = []
    with scheduler.run("direct"):
        for _ in range(count):
            with scheduler.slot("llm", stage="call", timeout=60):
                start = time.monotonic()
                time.sleep(hold_s)
                intervals.append((start, time.monotonic()))
    result = {"intervals": intervals, "unscheduled": scheduler.unscheduled_calls}
    out.write_text(json.dumps(result), encoding="utf-8")
    scheduler.close()


if __name__ == "__main__":
    main()
