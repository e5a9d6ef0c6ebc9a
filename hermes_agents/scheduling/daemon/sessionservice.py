"""``SessionService``: the daemon's client sessions, whatever schedules their calls.

What every daemon does with its connections lives here: a session per connection, ``hello``
(version and token), ``ping``, ``status``, refusing bad lines (fatal ones close the session),
the outboxes sent once per batch (``flush``), and closing sessions that went silent or never
said hello. What a session's runs and calls do is a subclass's: ``DaemonService``
(``service.py``) drives its own core; ``FrontService`` (``front.py``) hands them to a public
``Scheduler`` (Redis: ``hermes serve --scheduler redis://...``). A subclass has a handler for
each op of ``RUN_OPS`` (``_run``, ``_submit``, ...) and provides ``policy_name``, ``step``,
``reclaim`` and ``snapshot``.
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from itertools import count
from typing import Any, NamedTuple

from hermes_agents.errors import HermesError
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
    MAX_RUNS_PER_CLIENT,
    MAX_TASKS_PER_CLIENT,
    Counters,
    Session,
    same_token,
    task_of,
)
from hermes_agents.scheduling.tiers import Tier, checked_tier
from hermes_agents.version import VERSION

logger = logging.getLogger(__name__)

RUN_OPS = ("run", "stage", "submit", "release", "end", "suspend", "resume", "prior", "graph")
"""The ops on runs and calls, handled by a subclass's method of the same name (``_run``...)."""

Handler = Callable[[Session, dict[str, Any]], None]
"""Handles one decoded message of a session (answers go to its outbox)."""


class NewRun(NamedTuple):
    """A run a client starts (``SessionService.new_run``)."""

    run_id: str
    deadline: float | None
    tier: Tier | None


class SessionService(ABC):
    """The sessions behind the daemon's sockets (single-threaded: the event loop).

    Args:
        clock: the service's clock (seconds; leases and timeouts are judged on it).
        lease_s: a session holding or awaiting slots and silent this long is closed.
        token: what TCP sessions must say in ``hello`` (None: no TCP).
    """

    def __init__(
        self, clock: Callable[[], float], *, lease_s: float = 30.0, token: str | None = None
    ) -> None:
        if not (math.isfinite(lease_s) and lease_s > 0):
            raise HermesError(f"lease_s must be a positive number of seconds, got {lease_s}")
        self.clock = clock
        self.lease_s = lease_s
        self.token = token
        self.on_next_check: Callable[[float], None] | None = None
        """Called with the clock time at which to ``flush`` again (the server sets it: one
        timer on its loop)."""
        self.started_at_s = clock()
        self._internal_logged_s = -math.inf
        self.counters = Counters()
        self.sessions: dict[int, Session] = {}
        self._owners: dict[int, tuple[Session, int]] = {}
        """The service's task id -> the session owning it and the client's task id."""
        self._ids = count(1)
        self._handlers: dict[str, Handler] = {
            "hello": self._hello,
            "ping": self._ping,
            "status": self._status,
            "throttle": self._throttle,
        }
        # the ops on runs and calls: each subclass has a method ``_OP`` for every one
        self._handlers.update({op: getattr(self, f"_{op}") for op in RUN_OPS})

    # -- what a subclass provides -------------------------------------------------------------

    @property
    @abstractmethod
    def policy_name(self) -> str:
        """The scheduling policy's name (told to clients in ``welcome``)."""

    @abstractmethod
    def step(self) -> None:
        """Decide what the messages since the last step changed: answers into outboxes."""

    @abstractmethod
    def reclaim(self, session: Session) -> int:
        """``session`` ended: give back its slots, withdraw its tasks, drop its runs; returns
        how many slots it held."""

    @abstractmethod
    def snapshot(self) -> dict[str, Any]:
        """The daemon's state (``status`` and the metrics; see ``scheduling.snapshot``)."""

    def serving(self, flush_soon: Callable[[], None]) -> None:  # noqa: B027 (optional hook)
        """The server is up: ``flush_soon()``, callable from any thread, has ``flush`` run
        soon on its loop (for answers that arrive off the loop)."""

    def close(self) -> None:  # noqa: B027 (optional hook)
        """The server stopped: free what the service holds."""

    def throttled(  # noqa: B027 (optional hook: only auto windows listen)
        self, backend: str, status: int, retry_after_s: float | None
    ) -> None:
        """A client's call on ``backend`` was refused with 429/503 (``throttle``, checked by
        the protocol); the default ignores it."""

    # -- sessions -----------------------------------------------------------------------------

    def open(
        self, send: Callable[[bytes], None], close: Callable[[], None], *, needs_token: bool
    ) -> Session:
        """A new connection; it must say ``hello`` (with the token if ``needs_token``) within
        ``HELLO_TIMEOUT_S``. Past ``MAX_CONNECTIONS`` it is refused (a fatal error)."""
        now = self.clock()
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
        session.last_heard_s = self.clock()
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
        except HermesError as error:  # a request the scheduler refused (unknown backend, ...)
            self.reject(session, str(error), task=task_of(message), op=message.get("op"))
        except Exception:  # never let one client's message take the daemon down
            self.counters.internal_errors += 1
            now = self.clock()
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
        """One ``step``, then send every outbox."""
        self.step()
        for session in list(self.sessions.values()):
            if session.outbox:
                self._send(session)

    def end_session(self, session: Session) -> None:
        """The connection is gone: give back its slots, withdraw its tasks, drop its runs."""
        if session.closed:
            return
        session.closed = True
        self.sessions.pop(session.session_id, None)
        self.counters.slots_reclaimed += self.reclaim(session)
        session.runs.clear()
        self.counters.unscheduled_closed += session.unscheduled

    def expire_leases(self) -> int:
        """Close sessions that hold or await slots but were silent for ``lease_s``, sessions
        that never said hello within ``HELLO_TIMEOUT_S``, and idle ones silent for
        ``IDLE_LEASES`` leases (half-open connections)."""
        now = self.clock()
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

    def new_task(self, session: Session, message: dict[str, Any]) -> int:
        """The client's task id of a ``submit``; ``ProtocolError`` when it is in use, or when
        the session has ``MAX_TASKS_PER_CLIENT`` tasks already (that call runs unscheduled)."""
        task: int = message["task"]
        if task in session.tasks:
            raise ProtocolError(f"task {task} is already in use", op="submit")
        if len(session.tasks) >= MAX_TASKS_PER_CLIENT:
            self.counters.refused += 1
            raise ProtocolError(
                f"too many tasks from one client (at most {MAX_TASKS_PER_CLIENT} queued or "
                "running); this call runs unscheduled",
                op="submit",
            )
        return task

    def check_new_run(self, session: Session, run: str, op: str) -> None:
        """``ProtocolError`` when ``run`` would be one more open run than
        ``MAX_RUNS_PER_CLIENT`` (it is not started: its calls run unscheduled)."""
        if run not in session.runs and len(session.runs) >= MAX_RUNS_PER_CLIENT:
            self.counters.refused += 1
            raise ProtocolError(
                f"too many app runs from one client (at most {MAX_RUNS_PER_CLIENT} open); "
                "this run's calls run unscheduled",
                op=op,
            )

    def new_run(self, session: Session, message: dict[str, Any], now: float) -> NewRun | None:
        """A ``run`` message's run, to start: its id, deadline (``now`` on the scheduler's
        clock plus ``deadline_s``) and tier; None when the client registered it already (one
        that reconnected may register a run twice: harmless). Raises ``ProtocolError`` past
        ``MAX_RUNS_PER_CLIENT`` and ``ValidationError`` for an unknown tier (an error line)."""
        run = message["run"]
        if run in session.runs:
            return None
        self.check_new_run(session, run, "run")
        deadline_s = message.get("deadline_s")
        tier_name = message.get("tier")
        return NewRun(
            session.scoped_run_id(run),
            None if deadline_s is None else now + deadline_s,
            None if tier_name is None else checked_tier(tier_name),
        )

    def run_id_of(self, session: Session, run: str, op: str, task: int | None = None) -> str:
        """The service's id of the client's ``run``; ``ProtocolError`` when it was not
        started."""
        run_id = session.runs.get(run)
        if run_id is None:
            raise ProtocolError(f"run {run!r} was not started (send 'run' first)", op=op, task=task)
        return run_id

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
            "policy": self.policy_name,
            "lease_s": self.lease_s,
        }
        session.outbox.append(encode(welcome))

    def _ping(self, session: Session, message: dict[str, Any]) -> None:
        session.unscheduled = message.get("unscheduled", session.unscheduled)
        session.outbox.append(b'{"op":"pong"}\n')

    def _status(self, session: Session, message: dict[str, Any]) -> None:
        session.outbox.append(encode({"op": "status", **self.snapshot()}))

    def _throttle(self, session: Session, message: dict[str, Any]) -> None:
        self.throttled(message["backend"], message["status"], message.get("retry_after_s"))

    def _send(self, session: Session) -> None:
        data = b"".join(session.outbox)
        session.outbox.clear()
        if data:
            try:
                session.send(data)
            except Exception:  # a broken transport: the connection's loss handler cleans up
                logger.debug("sending to session %d failed", session.session_id, exc_info=True)
