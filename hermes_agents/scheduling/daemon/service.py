"""The daemon's state and message handling, without sockets: one core, many client sessions.

The asyncio server (``server.py``) feeds each received line to ``DaemonService.receive`` and
calls ``flush`` after each batch: admissions are decided once per batch and every grant goes to
the session that owns the task. A session that ends (its connection closed, broke, or let its
lease lapse) gives back every slot it held and withdraws every task it queued; its unfinished
runs are dropped without teaching the learner.

``flush`` is the one driver step (``driver.Driver``), as in ``LocalScheduler``: the core's
decisions are applied (grants and withdrawals routed to the sessions that own the tasks, the
prewarmer told of arrivals and freed slots and handed its hints), finished runs go to the
learner on a worker thread (``learning.LearningWorker``: the event loop never waits on the
profile store), and the next check time goes to ``on_next_check``, which the server turns into
one timer on its loop that calls ``flush``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from itertools import count
from typing import Any

from hermes_agents.errors import HermesError
from hermes_agents.pdgraph import PDGraph
from hermes_agents.scheduling.core import SchedulerCore
from hermes_agents.scheduling.daemon.profiles import graph_reply, load_profile, prior_of
from hermes_agents.scheduling.daemon.protocol import (
    PROTOCOL_VERSION,
    ProtocolError,
    decode,
    encode,
    error_message,
)
from hermes_agents.scheduling.daemon.sessions import (
    HELLO_TIMEOUT_S,
    IDLE_LEASES,
    INTERNAL_ERROR_LOG_S,
    MAX_CONNECTIONS,
    MAX_TASKS_PER_CLIENT,
    CallbackAlarm,
    Counters,
    Session,
    SessionAnswers,
    same_token,
    task_of,
)
from hermes_agents.scheduling.daemon.snapshot import snapshot
from hermes_agents.scheduling.driver import Driver, Learning
from hermes_agents.scheduling.learning import LearningWorker
from hermes_agents.scheduling.prewarming import Prewarmer
from hermes_agents.scheduling.state import Usage
from hermes_agents.scheduling.tiers import checked_tier
from hermes_agents.version import VERSION

logger = logging.getLogger(__name__)


class DaemonService:
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
        if not (math.isfinite(lease_s) and lease_s > 0):
            raise HermesError(f"lease_s must be a positive number of seconds, got {lease_s}")
        self.core = core
        self.lease_s = lease_s
        self.token = token
        self.prewarmer = prewarmer
        """Carries the core's prewarm hints to backends (needs a core with a planner)."""
        self.on_next_check: Callable[[float], None] | None = None
        """Called with the core-clock time at which to ``flush`` again for prewarming (the
        server sets it: one timer on its loop)."""
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
        self.started_at_s = core.clock()
        self._internal_logged_s = -math.inf
        self.counters = Counters()
        self.sessions: dict[int, Session] = {}
        self._owners: dict[int, tuple[Session, int]] = {}
        self._ids = count(1)
        self._handlers: dict[str, Callable[[Session, dict[str, Any]], None]] = {
            "hello": self._hello,
            "run": self._run,
            "stage": self._stage,
            "submit": self._submit,
            "release": self._release,
            "end": self._end,
            "suspend": self._suspend,
            "resume": self._resume,
            "ping": self._ping,
            "status": self._status,
            "prior": self._prior,
            "graph": self._graph,
        }

    def open(
        self, send: Callable[[bytes], None], close: Callable[[], None], *, needs_token: bool
    ) -> Session:
        """A new connection; it must say ``hello`` (with the token if ``needs_token``) within
        ``HELLO_TIMEOUT_S``. Past ``MAX_CONNECTIONS`` it is refused (a fatal error)."""
        now = self.core.clock()
        session = Session(next(self._ids), send, close, needs_token, now, opened_s=now)
        self.sessions[session.session_id] = session
        self.counters.connections += 1
        if len(self.sessions) > MAX_CONNECTIONS:
            self.counters.refused += 1
            self.reject(session, f"too many connections (at most {MAX_CONNECTIONS})", fatal=True)
        return session

    def receive(self, session: Session, line: bytes) -> None:
        """Handle one line from ``session``; answers wait in its outbox until ``flush``."""
        if session.closed:
            return
        session.last_heard_s = self.core.clock()
        message: dict[str, Any] = {}
        try:
            message = decode(line)
            op = message["op"]
            if not session.greeted and op != "hello":
                raise ProtocolError("say hello first", op=op, fatal=True)
            self._handlers[op](session, message)
        except ProtocolError as error:
            self.counters.protocol_errors += 1
            task = error.task if error.task is not None else task_of(message)
            self.reject(session, str(error), fatal=error.fatal, task=task, op=error.op)
        except HermesError as error:  # a request the core refused (unknown backend, ...)
            self.reject(session, str(error), task=task_of(message), op=message.get("op"))
        except Exception:  # never let one client's message take the daemon down
            self.counters.internal_errors += 1
            now = self.core.clock()
            if now - self._internal_logged_s >= INTERNAL_ERROR_LOG_S:  # a bug: logged, rarely
                self._internal_logged_s = now
                logger.exception(
                    "internal error on a message from session %d (%d so far; repeats within "
                    "%.0f s are counted, not logged)",
                    session.session_id,
                    self.counters.internal_errors,
                    INTERNAL_ERROR_LOG_S,
                )
            self.reject(session, "internal error in the daemon; see its log", task=task_of(message))

    def reject(
        self,
        session: Session,
        problem: str,
        *,
        fatal: bool = False,
        task: int | None = None,
        op: str | None = None,
    ) -> None:
        """Answer with an error; a fatal one closes the session after the answer is sent."""
        session.outbox.append(encode(error_message(problem, fatal=fatal, task=task, op=op)))
        if fatal:
            self._send(session)
            session.close()
            self.end_session(session)

    def flush(self) -> None:
        """One driver step (grants and withdrawals into the owners' outboxes, prewarming,
        learning handed off), then send every outbox."""
        learner = self.learner
        while learner is not None and learner.loaded:
            self.core.refresh_demand(learner.loaded.popleft())  # models loaded off the loop
        self.driver.run()
        for session in list(self.sessions.values()):
            if session.outbox:
                self._send(session)

    def end_session(self, session: Session) -> None:
        """The connection is gone: give back its slots, withdraw its tasks, drop its runs."""
        if session.closed:
            return
        session.closed = True
        self.sessions.pop(session.session_id, None)
        running = [self.core.tasks.get(task) for task in session.tasks.values()]
        self.counters.slots_reclaimed += sum(
            1 for task in running if task is not None and task.started_at is not None
        )
        for task in list(session.tasks):
            self._forget_task(session, task, None)
        for run_id in session.runs.values():
            self.core.finish_run(run_id, learn=False)
        session.runs.clear()
        self.counters.unscheduled_closed += session.unscheduled

    def expire_leases(self) -> int:
        """Close sessions that hold or await slots but were silent for ``lease_s``, sessions
        that never said hello within ``HELLO_TIMEOUT_S``, and idle ones silent for
        ``IDLE_LEASES`` leases (half-open connections)."""
        now = self.core.clock()
        expired = 0
        for session in list(self.sessions.values()):
            silent_s = now - session.last_heard_s
            if session.tasks and silent_s > self.lease_s:
                logger.warning(
                    "client %r held slots but was silent for %.0f s; reclaiming them",
                    session.client,
                    self.lease_s,
                )
                self.counters.leases_expired += 1
            elif not session.greeted and now - session.opened_s > HELLO_TIMEOUT_S:
                self.counters.hello_timeouts += 1
            elif silent_s > IDLE_LEASES * self.lease_s:
                self.counters.idle_closed += 1
            else:
                continue
            expired += 1
            session.close()
            self.end_session(session)
        return expired

    def close(self) -> None:
        """Learn what finished runs are queued, then stop the learning thread."""
        if self.learner is not None:
            self.learner.close()

    @property
    def unscheduled_calls(self) -> int:
        """Fail-open calls reported by every client, connected or gone."""
        live = sum(session.unscheduled for session in self.sessions.values())
        return self.counters.unscheduled_closed + live

    # -- handlers -----------------------------------------------------------------------------

    def _hello(self, session: Session, message: dict[str, Any]) -> None:
        if session.greeted:
            raise ProtocolError("hello was already said", op="hello")
        if message["version"] != PROTOCOL_VERSION:
            raise ProtocolError(
                f"protocol version {message['version']} is not supported; this daemon "
                f"(hermes-agents {VERSION}) speaks version {PROTOCOL_VERSION}: run the same "
                "hermes-agents version in clients and daemon",
                op="hello",
                fatal=True,
            )
        if session.needs_token and not same_token(message.get("token"), self.token):
            raise ProtocolError(
                "missing or wrong token; set HERMES_SCHEDULER_TOKEN to the daemon's token",
                op="hello",
                fatal=True,
            )
        session.greeted = True
        session.client = message.get("client", "")
        session.unscheduled = message.get("unscheduled", 0)
        welcome = {
            "op": "welcome",
            "version": PROTOCOL_VERSION,
            "server": f"hermes-agents {VERSION}",
            "policy": self.core.policy.name,
            "lease_s": self.lease_s,
        }
        session.outbox.append(encode(welcome))

    def _run(self, session: Session, message: dict[str, Any]) -> None:
        run = message["run"]
        if run in session.runs:
            return  # a client that reconnected may register a run twice: harmless
        deadline_s = message.get("deadline_s")
        deadline = None if deadline_s is None else self.core.clock() + deadline_s
        tier_name = message.get("tier")
        tier = None if tier_name is None else checked_tier(tier_name)  # refused: an error line
        core_run = f"{session.session_id}:{run}"
        self._load_profile(message["app"])
        self.core.start_run(core_run, message["app"], deadline=deadline, tier=tier)
        if message.get("partial"):  # registered again after a restart: the rest of a run
            self.core.mark_partial(core_run)
        session.runs[run] = core_run

    def _stage(self, session: Session, message: dict[str, Any]) -> None:
        run_id = self._core_run(session, message["run"], "stage")
        self.core.enter_stage(run_id, message["stage"], visit=message.get("visit"))

    def _submit(self, session: Session, message: dict[str, Any]) -> None:
        task = message["task"]
        if task in session.tasks:
            raise ProtocolError(f"task {task} is already in use", op="submit")
        if len(session.tasks) >= MAX_TASKS_PER_CLIENT:
            self.counters.refused += 1
            raise ProtocolError(
                f"too many tasks from one client (at most {MAX_TASKS_PER_CLIENT} queued or "
                "running); this call runs unscheduled",
                op="submit",
            )
        backend = message["backend"]
        run = message["run"]
        if run is None:
            run_id = f"{session.session_id}:#{task}"
            self.core.start_run(run_id, f"call:{backend}")
        else:
            run_id = self._core_run(session, run, "submit", task)
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
        run_id = session.runs.get(run, f"{session.session_id}:{run}")
        self._load_profile(message["app"])
        self.core.resume_run(run_id, message["app"])  # one the daemon lost: anew, unlearned
        session.runs[run] = run_id

    def _ping(self, session: Session, message: dict[str, Any]) -> None:
        session.unscheduled = message.get("unscheduled", session.unscheduled)
        session.outbox.append(b'{"op":"pong"}\n')

    def _status(self, session: Session, message: dict[str, Any]) -> None:
        session.outbox.append(encode({"op": "status", **snapshot(self)}))

    # -- helpers ------------------------------------------------------------------------------

    def _load_profile(self, app: str, prior: PDGraph | None = None) -> None:
        load_profile(self.core.models, self.learner, app, prior)

    def _core_run(self, session: Session, run: str, op: str, task: int | None = None) -> str:
        run_id = session.runs.get(run)
        if run_id is None:
            raise ProtocolError(f"run {run!r} was not started (send 'run' first)", op=op, task=task)
        return run_id

    def _forget_task(self, session: Session, task: int, usage: Usage | None) -> None:
        core_task = session.tasks.pop(task, None)
        if core_task is None:
            return  # unknown or already released: harmless, as in the core
        self._owners.pop(core_task, None)
        self.core.release(core_task, usage)
        one_call = session.one_call_runs.pop(task, None)
        if one_call is not None:
            self.core.finish_run(one_call, learn=False)  # a one-call app: nothing to learn

    def _send(self, session: Session) -> None:
        data = b"".join(session.outbox)
        session.outbox.clear()
        if data:
            try:
                session.send(data)
            except Exception:  # a broken transport: the connection's loss handler cleans up
                logger.debug("sending to session %d failed", session.session_id, exc_info=True)
