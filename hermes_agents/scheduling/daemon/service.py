"""The daemon's state and message handling, without sockets: one core, many client sessions.

The sessions themselves (hello, ping, status, leases, outboxes) are ``SessionService``'s
(``sessionservice.py``); this one drives its own core. The asyncio server (``server.py``) feeds
each received line to ``receive`` and calls ``flush`` after each batch: admissions are decided
once per batch and every grant goes to the session that owns the task. A session that ends (its
connection closed, broke, or let its lease lapse) gives back every slot it held and withdraws
every task it queued; its unfinished runs are dropped without teaching the learner.

``step`` (run by ``flush``) is the one driver step (``driver.Driver``), as in
``LocalScheduler``: the core's decisions are applied (grants and withdrawals routed to the
sessions that own the tasks, the prewarmer told of arrivals and freed slots and handed its
hints), finished runs go to the learner on a worker thread (``learning.LearningWorker``: the
event loop never waits on the profile store), and the next check time goes to
``on_next_check``, which the server turns into one timer on its loop that calls ``flush``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hermes_agents.capacity.window import Throttle
from hermes_agents.pdgraph import PDGraph
from hermes_agents.scheduling.core import SchedulerCore
from hermes_agents.scheduling.daemon.profiles import graph_reply, load_profile, prior_of
from hermes_agents.scheduling.daemon.protocol import encode
from hermes_agents.scheduling.daemon.sessions import CallbackAlarm, Session, SessionAnswers
from hermes_agents.scheduling.daemon.sessionservice import SessionService
from hermes_agents.scheduling.daemon.snapshot import snapshot
from hermes_agents.scheduling.driver import Driver, Learning
from hermes_agents.scheduling.learning import LearningWorker
from hermes_agents.scheduling.prewarming import Prewarmer
from hermes_agents.scheduling.state import Usage

if TYPE_CHECKING:
    from hermes_agents.capacity.runtime import CapacityRuntime


class DaemonService(SessionService):
    """The shared scheduler behind the daemon's sockets (single-threaded: the event loop)."""

    def __init__(
        self,
        core: SchedulerCore,
        *,
        lease_s: float = 30.0,
        token: str | None = None,
        prewarmer: Prewarmer | None = None,
        learning: Learning | None = None,
    ) -> None:
        super().__init__(core.clock, lease_s=lease_s, token=token)
        self.core = core
        self.prewarmer = prewarmer
        """Carries the core's prewarm hints to backends (needs a core with a planner)."""
        self.capacity: CapacityRuntime | None = None
        """Moves the ``auto`` windows; hears the clients' throttles (``hermes serve`` sets it)."""
        self.learner: LearningWorker | None = None
        """Learns finished runs off the event loop (when ``learning`` is not given)."""
        if learning is None and core.models is not None:
            learning = self.learner = LearningWorker(core.models)
        self.driver = Driver(
            core,
            SessionAnswers(self),
            warmups=prewarmer,
            alarm=CallbackAlarm(self),
            learning=learning,
        )

    @property
    def policy_name(self) -> str:
        """The core's policy."""
        return self.core.policy.name

    def step(self) -> None:
        """One driver step: grants and withdrawals into the owners' outboxes, prewarming,
        learning handed off (models loaded off the loop are taken up first)."""
        learner = self.learner
        while learner is not None and learner.loaded:
            self.core.refresh_demand(learner.loaded.popleft())  # models loaded off the loop
        self.driver.run()

    def reclaim(self, session: Session) -> int:
        """Give back the session's slots, withdraw its tasks, drop its runs unlearned."""
        running = [self.core.tasks.get(task) for task in session.tasks.values()]
        held = sum(1 for task in running if task is not None and task.started_at is not None)
        for task in list(session.tasks):
            self._forget_task(session, task, None)
        for run_id in session.runs.values():
            self.core.finish_run(run_id, learn=False)
        return held

    def snapshot(self) -> dict[str, Any]:
        """The core's state and the daemon's (``daemon.snapshot``)."""
        return snapshot(self)

    def serving(self, flush_soon: Callable[[], None]) -> None:
        """A profile loaded off the loop has ``flush`` run to use it."""
        if self.learner is not None:
            self.learner.on_loaded = flush_soon

    def close(self) -> None:
        """Learn what finished runs are queued, then stop the learning thread."""
        if self.learner is not None:
            self.learner.close()

    def throttled(self, backend: str, status: int, retry_after_s: float | None) -> None:
        """A client's 429/503 on ``backend``: its ``auto`` window halves (on the capacity
        thread; a backend with a fixed cap ignores it)."""
        if self.capacity is not None:
            self.capacity.throttled(backend, Throttle(status, retry_after_s))

    # -- handlers -----------------------------------------------------------------------------

    def _run(self, session: Session, message: dict[str, Any]) -> None:
        new = self.new_run(session, message, self.core.clock())
        if new is None:
            return
        self._load_profile(message["app"])
        self.core.start_run(new.run_id, message["app"], deadline=new.deadline, tier=new.tier)
        if message.get("partial"):  # registered again after a restart: the rest of a run
            self.core.mark_partial(new.run_id)
        session.runs[message["run"]] = new.run_id

    def _stage(self, session: Session, message: dict[str, Any]) -> None:
        run_id = self.run_id_of(session, message["run"], "stage")
        self.core.enter_stage(run_id, message["stage"], visit=message.get("visit"))

    def _submit(self, session: Session, message: dict[str, Any]) -> None:
        task = self.new_task(session, message)
        backend = message["backend"]
        run = message["run"]
        if run is None:
            run_id = f"{session.session_id}:#{task}"
            self.core.start_run(run_id, f"call:{backend}")
        else:
            run_id = self.run_id_of(session, run, "submit", task)
        try:
            core_task = self.core.submit(
                run_id,
                backend,
                stage=message.get("stage"),
                estimate_s=float(message.get("estimate_s", 0.0)),
                tokens=message.get("tokens", 0),
                visit=message.get("visit"),
            )
        except BaseException:
            if run is None:  # refused (or a bug): the one-call run must not stay behind
                self.core.finish_run(run_id, learn=False)
            raise
        if run is None:
            session.one_call_runs[task] = run_id
        session.tasks[task] = core_task
        self._owners[core_task] = (session, task)

    def _release(self, session: Session, message: dict[str, Any]) -> None:
        usage = message.get("usage")
        self._forget_task(session, message["task"], None if usage is None else Usage(**usage))

    def _prior(self, session: Session, message: dict[str, Any]) -> None:
        self._load_profile(message["app"], prior_of(message))

    def _graph(self, session: Session, message: dict[str, Any]) -> None:
        session.outbox.append(encode(graph_reply(self.core.models, message["app"])))

    def _end(self, session: Session, message: dict[str, Any]) -> None:
        run_id = session.runs.pop(message["run"], None)
        if run_id is not None:
            partial = bool(message.get("partial"))  # seen only in part: not learned
            self.core.finish_run(run_id, learn=not partial, partial=partial)

    def _suspend(self, session: Session, message: dict[str, Any]) -> None:
        run_id = session.runs.get(message["run"])  # kept: the session may resume it
        if run_id is not None:
            self.core.suspend_run(run_id)

    def _resume(self, session: Session, message: dict[str, Any]) -> None:
        run = message["run"]
        self.check_new_run(session, run, "resume")
        run_id = session.runs.get(run, session.scoped_run_id(run))
        self._load_profile(message["app"])
        self.core.resume_run(run_id, message["app"])  # one the daemon lost: anew, unlearned
        session.runs[run] = run_id

    # -- helpers ------------------------------------------------------------------------------

    def _load_profile(self, app: str, prior: PDGraph | None = None) -> None:
        load_profile(self.core.models, self.learner, app, prior)

    def _forget_task(self, session: Session, task: int, usage: Usage | None) -> None:
        core_task = session.tasks.pop(task, None)
        if core_task is None:
            return  # unknown or already released: harmless, as in the core
        self._owners.pop(core_task, None)
        self.core.release(core_task, usage)
        one_call = session.one_call_runs.pop(task, None)
        if one_call is not None:
            self.core.finish_run(one_call, learn=False)  # a one-call app: nothing to learn
