"""``RedisScheduler``: one admission order per backend for every process on every host.

Each process keeps its own runs in an in-process ``LocalScheduler`` whose backends are
unlimited (it admits at once): that is where a run's position, attained service and Gittins
rank come from (the same learned profiles on every host, from the Redis profile store, so ranks
compare). The order and the capacity check happen in Redis (``link.BackendLink`` and the
scripts in ``lua/``): a call is queued there with its run's rank, admitted there when it is
first in line and fits, and told so by a push.

Fail-open (``outage.Outage``): when Redis cannot be reached (or answers with something that
is not this scheduler's), calls run at once, unscheduled, with one warning per outage and a
count in ``unscheduled_calls``; a probe thread tries Redis every ``retry_s`` and scheduling
resumes by itself once it answers. No call waits on a Redis believed out. A process whose lease
expired (it hung, or was cut off) finds out at its next renewal: its waiting calls go ahead,
its running ones are counted.

Never stalled on Redis (``releases.Releases``): a release is one round trip on the caller's
thread, whose reply it waits for at most ``RELEASE_WAIT_S`` (with a healthy Redis it is done by
then, and the next ticket admitted); a late reply is read by an outbox's thread, which also
writes the rank refreshes. So a Redis that stopped answering costs the app's thread at most
that, once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hermes_agents.pdgraph import PDGraph
from hermes_agents.scheduling.decisions import RUN_ENDED
from hermes_agents.scheduling.interface import Scheduler
from hermes_agents.scheduling.redis.address import COMMAND_TIMEOUT_S, RedisAddress
from hermes_agents.scheduling.redis.call import Call, on_event_loop
from hermes_agents.scheduling.redis.closing import shut_down
from hermes_agents.scheduling.redis.headroom import queue_place
from hermes_agents.scheduling.redis.keys import (
    PREFIX,
    TOO_MANY_BACKENDS,
    BackendKeys,
    hosts_key,
    may_add,
)
from hermes_agents.scheduling.redis.lane import Lane
from hermes_agents.scheduling.redis.link import BackendLink
from hermes_agents.scheduling.redis.outage import Outage
from hermes_agents.scheduling.redis.releases import Releases
from hermes_agents.scheduling.redis.reports import (
    StateErrors,
    failure_reason,
    host_record,
    log_corrupt,
    process_name,
)
from hermes_agents.scheduling.redis.runcalls import RunCalls
from hermes_agents.scheduling.redis.scripts import RedisStateError, Scripts
from hermes_agents.scheduling.runtime import LocalScheduler
from hermes_agents.scheduling.state import UNLIMITED, BackendLimits, Usage
from hermes_agents.scheduling.ticket import Answer, Ticket
from hermes_agents.scheduling.tiers import Tier

if TYPE_CHECKING:
    import redis

    from hermes_agents.scheduling.redis.learning import ProfileSync
    from hermes_agents.scheduling.redis.profilewrites import ProfileWrites

logger = logging.getLogger(__name__)

DEFAULT_LEASE_TTL_S = 10.0
"""How long a process's lease on a backend lasts unrenewed (``HERMES_REDIS_LEASE_TTL_S``)."""
DEFAULT_RETRY_S = 1.0
"""How often the probe thread tries Redis during an outage (no call does)."""
SUSPENDED = "its app run was suspended while it waited"
CLOSED = "the scheduler was closed while the call waited"
CLOSE_WAIT_S = 2.0
"""How long closing lets the outbox's thread finish what it holds."""


class RedisScheduler(Scheduler):
    """Slots from Redis at ``address``, ranks from ``local`` (see the module docstring).

    Args:
        address: where Redis is.
        local: this process's runs and models (its backends should be unlimited:
            ``redis_scheduler`` builds it from the config).
        limits: each backend's limits, written to Redis by the first process that uses the
            backend (unnamed backends: ``UNLIMITED``).
        lease_ttl_s: the lease TTL; renewed every third of it.
        retry_s: how often the probe thread tries Redis while it is out (``outage``).
        prefix: the first part of every key (one Redis can hold several independent fleets).
    """

    def __init__(
        self,
        address: RedisAddress,
        local: LocalScheduler,
        limits: Mapping[str, BackendLimits] | None = None,
        *,
        lease_ttl_s: float = DEFAULT_LEASE_TTL_S,
        retry_s: float = DEFAULT_RETRY_S,
        prefix: str = PREFIX,
    ) -> None:
        super().__init__()
        self.address = address
        self.local = local
        self.limits = dict(limits or {})
        self.lease_ttl_s = lease_ttl_s
        self.retry_s = retry_s
        self.prefix = prefix
        self._deadline_offset_s: float = getattr(local.core.clock, "offset_s", 0.0)
        """What the runs' clock adds to ``time.monotonic()`` (``clock.SharedClock``)."""
        self._lock = threading.Lock()
        self._links: dict[str, BackendLink] = {}
        self._retired: list[BackendLink] = []
        """Links of this process's earlier names (their calls still running)."""
        self._runs = RunCalls()
        self._published_s = 0.0
        self._state_errors = StateErrors(address.display)
        self.profile_sync: ProfileSync | None = None
        """Reloads this host's models when other hosts learned more (``learning``)."""
        self.profile_writes: ProfileWrites | None = None
        """Writes this host's runs to the Redis profile store (``profilewrites``)."""
        self._connect()

    @property
    def out(self) -> bool:
        """Whether calls run unscheduled now (Redis believed out, or the scheduler closed)."""
        return self._outage.out

    def _connect(self) -> None:
        self._pid = os.getpid()
        self.process = process_name(self._pid)
        """This process's name in Redis (its leases, its grant lists); a new one after each
        failure of Redis."""
        self.client: redis.Redis = self.address.client()
        # a blocking pop waits at most a third of the TTL: a silent Redis is noticed soon after
        self._listener = Lane(
            self.address.client(timeout_s=self.lease_ttl_s / 3 + COMMAND_TIMEOUT_S)
        )
        self._scripts = Scripts(self.client)
        self._links = {}
        self._outage = Outage(self.client.ping, self.reached, retry_s=self.retry_s)
        self._releases = Releases(
            self.client,
            out=lambda: self._outage.out,
            failed=self._failed,
            gone=self.gone,
            current=lambda link: self._links.get(link.keys.backend) is link,
        )

    # -- runs: this process's own (ranks) -----------------------------------------------------

    def start_run(
        self, run_id: str, app: str, *, deadline: float | None = None, tier: Tier | None = None
    ) -> None:
        if deadline is not None:  # the interface's monotonic time, on the runs' shared clock
            deadline += self._deadline_offset_s
        self.local.start_run(run_id, app, deadline=deadline, tier=tier)

    def move_run(self, run_id: str, stage: str, *, visit: str | None = None) -> None:
        self.local.move_run(run_id, stage, visit=visit)
        self._rerank(run_id)

    def finish_run(self, run_id: str, *, complete: bool = True) -> None:
        self._withdraw_run(run_id, RUN_ENDED)
        self.local.finish_run(run_id, complete=complete)

    def suspend_run(self, run_id: str) -> None:
        self._withdraw_run(run_id, SUSPENDED)
        self.local.suspend_run(run_id)

    def resume_run(self, run_id: str, app: str) -> None:
        self.local.resume_run(run_id, app)

    def has_run(self, run_id: str) -> bool:
        return self.local.has_run(run_id)

    def add_prior(self, app: str, prior: PDGraph) -> None:
        self.local.add_prior(app, prior)

    def learned_graph(self, app: str) -> PDGraph | None:
        return self.local.learned_graph(app)

    # -- calls: through Redis -----------------------------------------------------------------

    def submit(self, ticket: Ticket) -> None:
        backend = ticket.backend
        if backend not in self._links and not may_add(backend, self._links, self.limits):
            self._unscheduled(ticket, TOO_MANY_BACKENDS)  # Redis untouched: no keys for it
            return
        link = self._link(ticket.backend)
        if link is None:
            self._unscheduled(ticket, f"Redis at {self.address.display} is unreachable")
            return
        inner = Ticket(
            ticket.backend,
            run_id=ticket.run_id,
            stage=ticket.stage,
            visit=ticket.visit,
            estimate_s=ticket.estimate_s,
            tokens=ticket.tokens,
        )
        self.local.submit(inner)  # unlimited: admitted at once, or failed open (logged)
        if inner.answer is not Answer.GRANTED:
            self.fail_open(ticket, inner.reason or "hermes scheduler error")
            return
        run_id = ticket.run_id or str(inner.handle)
        app, place = self.local.run_app(run_id) or "", queue_place(self.local, run_id, inner.task)
        call = Call(ticket, inner, link, run_id, inner.rank, app, *place)
        ticket.handle, ticket.task = call, inner.task
        self._runs.add(call)
        try:
            link.submit(call, wait=not on_event_loop())
        except Exception as error:
            self.submit_failed(call, error)

    def release(self, ticket: Ticket, usage: Usage) -> None:
        call = ticket.handle
        if not isinstance(call, Call):
            return
        ticket.handle = None  # once, whoever calls again
        self.local.release(call.inner, usage)  # the run's service and rank move on
        self._rerank(call.run_id)
        self._releases.end(call)

    def withdraw(self, ticket: Ticket) -> None:
        call = ticket.handle
        if not isinstance(call, Call):
            return
        ticket.handle = None
        self._runs.forget(call)
        self.local.withdraw(call.inner)
        self._releases.end(call)

    def snapshot(self) -> dict[str, Any]:
        """The whole cluster's state (``hermes status --scheduler``); raises
        ``redis.RedisError`` when Redis does not answer (an inspection, not a call)."""
        from hermes_agents.scheduling.redis.status import cluster_snapshot

        return cluster_snapshot(self.client, self.address.display, prefix=self.prefix)

    def close(self) -> None:
        """Stop the link threads and close every connection; calls still waiting go ahead
        unscheduled (their tickets are withdrawn in Redis where it answers)."""
        if self.profile_sync is not None:
            self.profile_sync.close()
        if self.profile_writes is not None:  # the runs learned so far, while Redis is used
            self.profile_writes.close(CLOSE_WAIT_S)
        with self._lock:
            links = [*self._links.values(), *self._retired]
            self._links, self._retired = {}, []
        self._outage.close()  # later calls run unscheduled
        self._releases.close(CLOSE_WAIT_S)  # what it holds: withdrawn with the orphans below
        shut_down(links, self._listener, lambda call: self._fail_call(call, CLOSED, warn=False))
        self._scripts.lane.close()
        self.client.close()
        self.local.close()
        if self.profile_sync is not None:
            self.profile_sync.store.client.close()

    # -- what links report ----------------------------------------------------------------

    def granted(self, call: Call) -> bool:
        """``call`` was admitted in Redis: its caller goes ahead."""
        self._runs.forget(call)
        return call.ticket.grant(call.rank)

    def submit_failed(self, call: Call, error: Exception) -> None:
        """Queueing ``call`` in Redis failed: it goes ahead unscheduled (the outage begins,
        unless Redis answered something not ours: its error is in the log already)."""
        self._failed(error)
        state = isinstance(error, RedisStateError)
        self._fail_call(call, self._reason(error), warn=not state)

    def gone(self, call: Call, running: bool, reason: str) -> None:
        """Redis no longer holds ``call``: a running one goes on unscheduled (counted), a
        waiting one goes ahead."""
        if running:
            with self._lock:  # counted once, whichever thread finds out first
                granted, call.granted = call.granted, False
            if not granted:
                return
            self.count_unscheduled(1, reason)
            self.local.apply(lambda core: core.mark_partial(call.run_id))
        else:
            self._fail_call(call, reason)

    def lost(self, error: Exception) -> None:
        """Redis failed under a link's thread."""
        self._failed(error)

    def reached(self) -> None:
        """A command on Redis worked: scheduling works (again)."""
        if self._outage.out and self._outage.end():
            self.recovered(f"Redis at {self.address.display} is back; scheduling resumed")

    def corrupt(self, backend: str, tickets: Sequence[str]) -> None:
        """Redis dropped unreadable tickets: say so (their callers, wherever they are, find
        them gone at their next renewal and go ahead)."""
        log_corrupt(self.address.display, backend, tickets)

    def renewed(self) -> None:
        """Publish this process's counters (at most once per lease TTL)."""
        now = time.monotonic()
        if now - self._published_s < self.lease_ttl_s / 3:
            return
        self._published_s = now
        record = host_record(self._pid, self.unscheduled_calls)
        self.client.hset(hosts_key(self.prefix), self.process, record)

    # -- helpers --------------------------------------------------------------------------

    def _unscheduled(self, ticket: Ticket, reason: str) -> None:
        """``ticket`` goes ahead unscheduled; its run is partial (a call went unseen)."""
        if ticket.run_id is not None:
            run_id = ticket.run_id
            self.local.apply(lambda core: core.mark_partial(run_id))
        self.fail_open(ticket, reason)

    def _link(self, backend: str) -> BackendLink | None:
        """The backend's link (made on first use); None while Redis is believed out."""
        if os.getpid() != self._pid:  # a forked child: its own name, clients and threads
            self._connect()
        if self._outage.out:  # the probe tells when it is back: no call waits on it
            return None
        link = self._links.get(backend)
        if link is not None:
            return link
        with self._lock:
            link = self._links.get(backend)
            if link is None:
                link = self._links[backend] = BackendLink(
                    self,
                    BackendKeys(backend, self.prefix),
                    self.limits.get(backend, UNLIMITED),
                    process=self.process,
                    scripts=self._scripts,
                    listener=self._listener,
                    lease_ttl_s=self.lease_ttl_s,
                    retry_s=self.retry_s,
                    headroom=self.local.core.held_back is not None,  # (``headroom``)
                )
        return link

    def _fail_call(self, call: Call, reason: str, *, warn: bool = True) -> None:
        """``call`` goes ahead unscheduled (counted; ``warn``: with the outage's one warning);
        its twin leaves the local core."""
        call.ticket.handle = None
        self._runs.forget(call)
        self.local.withdraw(call.inner)
        self.local.apply(lambda core: core.mark_partial(call.run_id))
        if warn:
            self.fail_open(call.ticket, reason)
        elif call.ticket.fail_open(reason):
            self.unscheduled_calls += 1

    def _failed(self, error: Exception) -> None:
        """A command on Redis failed: the outage begins (waiting calls go ahead)."""
        if isinstance(error, RedisStateError):  # logged once per kind: it repeats per call
            self._state_errors.log(error)
            return
        with self._lock:
            first = self._outage.begin()
            links = list(self._links.values())
            # A script whose reply was lost may still have run (a submit: a ticket nobody
            # knows the name of). Under a new name, nothing renews the old one's lease any
            # more once its running calls end, so such tickets expire with it.
            self._links = {}
            self.process = process_name(self._pid)
            self._retired = [link for link in self._retired if link.active] + links
        for link in links:
            link.retire()
        reason = self._reason(error)
        waiting = [call for link in links for call in link.take_waiting()]
        for call in waiting:
            self._fail_call(call, reason)
        if first and not waiting:
            self.count_unscheduled(0, reason)

    def _reason(self, error: Exception) -> str:
        return failure_reason(self.address.display, error)

    def _withdraw_run(self, run_id: str, reason: str) -> None:
        for call in self._runs.take(run_id):
            if call.ticket.withdraw(reason):
                call.ticket.handle = None
                self._releases.end(call)

    def _rerank(self, run_id: str) -> None:
        """The run moved: its waiting calls get its new rank in Redis, in place (by the
        outbox's thread; not while Redis is out)."""
        calls = self._runs.waiting(run_id)
        if not calls or self._outage.out:
            return
        rank = self.local.run_rank(run_id)
        for call in calls:
            call.rank, call.order = rank, queue_place(self.local, run_id, call.inner.task)[0]
        self._releases.rerank(calls)
