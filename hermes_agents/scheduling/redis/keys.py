"""Where one backend's scheduling state lives in Redis (the key layout, ``docs/scale-out.md``).

Every key of backend ``B`` starts with ``PREFIX:{B}:``: the ``{B}`` hash tag puts them in one
hash slot, so each admission script touches one slot (Redis Cluster runs it on one node):

==============================  ==============================================================
``hermes:{B}:meta``             hash: ``schema`` (``SCHEMA``), the limits (with
                                ``sheddable_share``, ``reserve_window_ms``), ``tokens_running``,
                                ``seq``, ``epoch``, ``reap_at``, ``higher_at`` (the last
                                critical or standard submit, ms), counters (``granted``,
                                ``reclaimed``, ``expired``, ``promoted``, ``corrupt``)
``hermes:{B}:queue``            sorted set: waiting ticket -> rank (ties: the ticket's name,
                                its zero-padded arrival number)
``hermes:{B}:arrivals``         sorted set: waiting ticket -> submitted ms (the wait bound)
``hermes:{B}:tickets``          hash: ticket -> ``process|tokens|submitted_ms|tier|app``
``hermes:{B}:leases``           sorted set: running ticket -> hold deadline ms
``hermes:{B}:shed``             sorted set: the running sheddable tickets (of ``leases``, same
                                scores; kept while the backend keeps headroom: ``headroom``)
``hermes:{B}:procs``            sorted set: process -> lease expiry ms
``hermes:{B}:owned:<process>``  set: the process's tickets
``hermes:{B}:grants:<process>`` list: grants pushed to the process (it blocks on it)
``hermes:{B}:warm:<moment>``    string: who claimed that warm-up (``SET NX PX``)
``hermes:backends``             set: backend names (for ``hermes status``)
``hermes:hosts``                hash: process -> its counters as JSON (for ``hermes status``)
==============================  ==============================================================
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from hermes_agents.scheduling.queues import MAX_UNCONFIGURED_BACKENDS

PREFIX = "hermes"
SCHEMA = "2"
"""The layout version in ``meta``'s ``schema`` field; scripts refuse any other (2: tickets
carry their tier, ``meta`` the headroom's limits, ``shed`` the running sheddable tickets)."""
TICKET = re.compile(r"\d{12}")
"""A ticket's name: its arrival number on the backend, zero-padded."""


@dataclass(frozen=True)
class BackendKeys:
    """The keys of ``backend`` under ``prefix`` (see the module docstring)."""

    backend: str
    prefix: str = PREFIX

    @property
    def base(self) -> str:
        """What every key of the backend starts with."""
        return f"{self.prefix}:{{{self.backend}}}:"

    @property
    def meta(self) -> str:
        """The backend's schema, limits and counters."""
        return self.base + "meta"

    @property
    def queue(self) -> str:
        """Waiting tickets by rank."""
        return self.base + "queue"

    @property
    def leases(self) -> str:
        """Running tickets by hold deadline."""
        return self.base + "leases"

    @property
    def tickets(self) -> str:
        """Every ticket's record."""
        return self.base + "tickets"

    @property
    def shed(self) -> str:
        """Running sheddable tickets by hold deadline (a subset of ``leases``)."""
        return self.base + "shed"

    @property
    def procs(self) -> str:
        """Processes by lease expiry."""
        return self.base + "procs"

    @property
    def script_keys(self) -> list[str]:
        """The keys every admission script is given, in its order."""
        base = self.base
        names = ("meta", "queue", "arrivals", "tickets", "leases", "procs", "shed")
        return [base + name for name in names]

    def grants(self, process: str) -> str:
        """The list ``process`` blocks on for its grants."""
        return f"{self.base}grants:{process}"

    def owned(self, process: str) -> str:
        """The tickets of ``process``."""
        return f"{self.base}owned:{process}"

    def warm(self, action: str) -> str:
        """The claim on the backend's current warm-up of kind ``action`` (wake, keep_awake)."""
        return f"{self.base}warm:{action}"


def backends_key(prefix: str = PREFIX) -> str:
    """The set of backend names."""
    return f"{prefix}:backends"


def hosts_key(prefix: str = PREFIX) -> str:
    """The hash of processes' counters."""
    return f"{prefix}:hosts"


TOO_MANY_BACKENDS = (
    f"this process uses {MAX_UNCONFIGURED_BACKENDS} unconfigured backends already; name the "
    "backend in the config ([backends.NAME]) to schedule its calls"
)
"""Why a call on one more unconfigured backend runs unscheduled (``may_add``)."""


def may_add(backend: str, used: Collection[str], configured: Collection[str]) -> bool:
    """Whether ``backend`` may get keys in Redis, ``used`` being the backends a process uses:
    a configured one always, an unconfigured one while fewer than ``MAX_UNCONFIGURED_BACKENDS``
    are in use (a client naming backend after backend would grow Redis without bound; keys of
    a backend are kept, they hold its limits and leases)."""
    if backend in configured:
        return True
    return sum(1 for name in used if name not in configured) < MAX_UNCONFIGURED_BACKENDS
