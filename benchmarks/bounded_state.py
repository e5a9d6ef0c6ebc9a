"""Memory under many distinct names (issue 13: 10,000 app names grow the daemon by <= 50 MB and
shrink back after eviction).

Run: ``.venv/bin/python benchmarks/bounded_state.py [--apps 10000]``

Drives a ``DaemonService`` (no socket) with one finished run per distinct app name and backend
name, learning on its worker thread, and prints the traced Python memory (``tracemalloc``)
before, at the peak of in-memory models (``MAX_APPS``), and after an idle hour evicts them
(``MAX_IDLE_APP_S``). Never a test.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
import tracemalloc

from hermes_agents.scheduling.core import SchedulerCore
from hermes_agents.scheduling.daemon.service import DaemonService
from hermes_agents.scheduling.models import MAX_APPS, MAX_IDLE_APP_S, AppModels
from hermes_agents.scheduling.policies import policy_named
from hermes_agents.scheduling.state import UNLIMITED


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=10_000)
    args = parser.parse_args()
    models = AppModels()
    core = SchedulerCore(
        {}, policy_named("gittins"), time.monotonic, models=models, default_limits=UNLIMITED
    )
    service = DaemonService(core)
    session = service.open(lambda data: None, lambda: None, needs_token=False)
    service.receive(session, b'{"op":"hello","version":1}')
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for index in range(args.apps):
        for line in (
            b'{"op":"run","run":"r%d","app":"app-%d"}' % (index, index),
            b'{"op":"submit","task":%d,"run":"r%d","backend":"b-%d","stage":"s"}'
            % (index, index, index),
            b'{"op":"release","task":%d,"usage":{"prompt_tokens":50,"seconds":0.1}}' % index,
            b'{"op":"end","run":"r%d"}' % index,
        ):
            service.receive(session, line)
        service.flush()
    assert service.learner is not None
    service.learner.drain(60)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    in_memory = len(models._learners)
    later = [time.monotonic() + MAX_IDLE_APP_S + 1]
    models.clock = lambda: later[0]  # an hour later, with no app in use
    models.evict_idle()
    gc.collect()
    idle = tracemalloc.get_traced_memory()[0]
    report = {
        "apps": args.apps,
        "apps_in_memory": in_memory,
        "max_apps": MAX_APPS,
        "evicted": models.evicted,
        "backends_kept": len(core.backends),
        "grown_mb": round((after - before) / 1e6, 1),
        "after_idle_eviction_mb": round((idle - before) / 1e6, 1),
        "apps_in_memory_after": len(models._learners),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
