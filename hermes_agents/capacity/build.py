"""The ``auto`` backends of a configuration, made into a ``CapacityRuntime``.

``capacity_runtime(config)`` gives one ``AutoBackend`` per backend whose ``max_concurrency`` is
``"auto"`` (its controller, and a probe of its server where the adapter measures one), or
None when there is none. ``run_in_process(scheduler, runtime)`` attaches it to an in-process
scheduler and starts it; ``run_on_loop`` starts it for the daemon, whose core lives on an event
loop (``commands/serve.py``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from hermes_agents.capacity.probes import controller_for, probe_for
from hermes_agents.capacity.runtime import AutoBackend, CapacityRuntime

if TYPE_CHECKING:
    from hermes_agents.config import BackendConfig, Config
    from hermes_agents.scheduling.core import SchedulerCore
    from hermes_agents.scheduling.runtime import LocalScheduler

__all__ = ["auto_backend", "capacity_runtime", "run_in_process", "run_on_loop"]


def auto_backend(backend: BackendConfig, clock: Callable[[], float]) -> AutoBackend:
    """The run-time half of one ``auto`` backend (its probe's adapter opens no connection
    until it is first read)."""
    assert backend.auto is not None, f"backend {backend.name!r} is not auto"
    controller = controller_for(backend.adapter, backend.auto.bounds, clock)
    probed = probe_for(backend.adapter, backend.base_url, name=backend.name)
    probe, adapter = probed if probed is not None else (None, None)
    return AutoBackend(backend.name, controller, probe, backend.auto.poll_s, adapter)


def capacity_runtime(
    config: Config | None, *, clock: Callable[[], float] = time.monotonic
) -> CapacityRuntime | None:
    """A runtime for the ``auto`` backends of ``config``; None when it has none."""
    if config is None:
        return None
    autos = [auto_backend(b, clock) for b in config.backends.values() if b.auto is not None]
    return CapacityRuntime(autos, clock=clock) if autos else None


def run_in_process(
    scheduler: LocalScheduler, runtime: CapacityRuntime, *, first_read: bool = False
) -> None:
    """Attach ``runtime`` to ``scheduler``'s core and start it: each window change takes the
    scheduler's lock and runs one driver step (``LocalScheduler.apply``); ``scheduler.close()``
    stops it. ``first_read``: read the engines once here, before returning (the windows are
    right from the first call on; a server that does not answer delays this by its
    timeout)."""

    def apply(backend: str, size: int, reason: str) -> None:
        def change(core: SchedulerCore) -> None:
            core.set_capacity(backend, size, reason)

        scheduler.apply(change)

    runtime.attach(scheduler.core)
    scheduler.capacity = runtime
    if first_read:
        runtime.apply = apply
        runtime.poll()
    runtime.start(apply)


def run_on_loop(
    runtime: CapacityRuntime,
    core: SchedulerCore,
    flush: Callable[[], None],
    loop: asyncio.AbstractEventLoop,
) -> None:
    """Start ``runtime`` (attached to ``core``) for a scheduler that lives on ``loop`` (the
    daemon): each window change is made on the loop, then ``flush`` runs the driver step."""

    def apply(backend: str, size: int, reason: str) -> None:
        def change() -> None:
            core.set_capacity(backend, size, reason)
            flush()

        loop.call_soon_threadsafe(change)

    runtime.start(apply)
