"""A host process for the tests: takes one slot on ``llm`` through Redis, says so, holds it
for HOLD_S seconds, releases it and prints its unscheduled count.

Usage: python -m tests.scheduling.redis.child_host URL HOLD_S LEASE_TTL_S
"""

from __future__ import annotations

import sys
import time

from hermes_agents.scheduling.state import BackendLimits
from tests.scheduling.redis.helpers import host


def main() -> None:
    url, hold_s, ttl_s = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    scheduler = host(url, {"llm": BackendLimits(1)}, lease_ttl_s=ttl_s)
    with scheduler.slot("llm", timeout=30):
        print("held", flush=True)
        end = time.monotonic() + hold_s
        while time.monotonic() < end:  # wall time: a SIGSTOP in between shortens it
            time.sleep(0.05)
    print(f"unscheduled {scheduler.unscheduled_calls}", flush=True)
    scheduler.close()


if __name__ == "__main__":
    main()
