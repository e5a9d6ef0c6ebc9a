"""The daemon's status snapshot: the core's state (``scheduling.snapshot``) plus the daemon's
own: protocol version, clients, lease, connection counters, prewarming."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hermes_agents.scheduling.daemon.protocol import PROTOCOL_VERSION
from hermes_agents.scheduling.snapshot import MAX_RUNS_IN_STATUS, core_snapshot, prewarm_snapshot

if TYPE_CHECKING:
    from hermes_agents.scheduling.daemon.service import DaemonService

__all__ = ["MAX_RUNS_IN_STATUS", "snapshot"]


def snapshot(service: DaemonService) -> dict[str, Any]:
    """The daemon's state now (shape: ``hermes_agents.scheduling.snapshot``)."""
    state = core_snapshot(service.core, started_at_s=service.started_at_s)
    return {
        **state,
        "version": PROTOCOL_VERSION,
        "clients": len(service.sessions),
        "lease_s": service.lease_s,
        "counters": {
            **service.counters.status(),
            "partial_runs": service.core.partial_runs,
            "unscheduled_calls": service.unscheduled_calls,
        },
        "prewarm": prewarm_snapshot(service.prewarmer),
    }
