"""Cold starts: a backend that sleeps when idle and wakes on demand.

A backend with ``cold_start_s > 0`` starts asleep (deployed cold, like a scaled-to-zero
container or a vLLM server in sleep mode). The first call it is given wakes it: that call, and
every call given to it while it wakes, waits ``cold_start_s`` (counted in the job's
``cold_wait_s``). Once awake it serves calls; after ``idle_sleep_s`` seconds with nothing to do
it goes back to sleep (``idle_sleep_s=None``: it never does).

``warm_waste_s`` counts the seconds it spent awake with nothing to serve: the price of keeping a
backend warm, which a prewarmer trades against the cold starts it hides.

A prewarmer acts through two calls: ``wake()`` starts a wake-up now (it costs ``cold_start_s``
like any other; awake and idle afterwards, the backend sleeps after ``idle_sleep_s`` as usual)
and ``keep_awake(until_s)`` keeps an awake backend from falling asleep before ``until_s``. A
``listener`` (``ColdStartListener``, e.g. ``hermes_agents.prewarm.PrewarmLedger``) hears when
the backend finished waking, ran out of work, and fell asleep.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from hermes_agents.errors import ValidationError
from hermes_agents.sim.events import EventLoop, Timer
from hermes_agents.sim.job import Done, Job, Server


class ColdStartListener(Protocol):
    """Hears a cold-starting backend's state changes (times on the simulation clock)."""

    def warmed(self, backend: str, now_s: float) -> None:
        """A wake-up finished."""
        ...

    def idle(self, backend: str, now_s: float) -> None:
        """The backend ran out of work (it is awake and idle)."""
        ...

    def slept(self, backend: str, now_s: float) -> None:
        """The backend fell asleep."""
        ...


class ColdStart:
    """Sleep/wake in front of another backend model (``make_inner`` builds it).

    >>> from hermes_agents.sim.events import EventLoop
    >>> from hermes_agents.sim.pools import Pool
    >>> loop, waits = EventLoop(), []
    >>> backend = ColdStart(loop, 3.0, 10.0, lambda job: waits.append(job.cold_wait_s),
    ...                     lambda done: Pool(loop, 1, done))
    >>> backend.start(Job(1, seconds=1.0)); loop.run()
    >>> waits, backend.awake, backend.warm_waste_s   # woke at 3, done at 4, asleep at 14
    ([3.0], False, 10.0)
    """

    def __init__(
        self,
        loop: EventLoop,
        cold_start_s: float,
        idle_sleep_s: float | None,
        done: Done,
        make_inner: Callable[[Done], Server],
        *,
        name: str = "",
    ) -> None:
        if cold_start_s < 0 or (idle_sleep_s is not None and idle_sleep_s < 0):
            raise ValidationError("cold_start_s and idle_sleep_s must be >= 0")
        self.loop = loop
        self.name = name
        self.listener: ColdStartListener | None = None
        self.cold_start_s = cold_start_s
        self.idle_sleep_s = idle_sleep_s
        self.done = done
        self.inner = make_inner(self._finished)
        self.awake = False
        self.wakeups = 0
        self.hinted_wakeups = 0
        self.warm_waste_s = 0.0
        self._active = 0
        self._held: list[Job] = []
        self._waking: Timer | None = None
        self._idle_since: float | None = None
        self._sleep: Timer | None = None
        self._keep_until_s = 0.0

    @property
    def waking(self) -> bool:
        """True while a wake-up is under way."""
        return self._waking is not None

    def wake(self) -> bool:
        """A prewarm hint: start waking now if asleep; True if a wake-up started."""
        if self.awake or self._waking is not None:
            return False
        self.wakeups += 1
        self.hinted_wakeups += 1
        self._waking = self.loop.after(self.cold_start_s, self._woke)
        return True

    def keep_awake(self, until_s: float) -> None:
        """A prewarm hint: do not fall asleep before ``until_s`` (if awake or waking)."""
        if not (self.awake or self._waking is not None) or until_s <= self._keep_until_s:
            return
        self._keep_until_s = until_s
        if self._sleep is not None and self._sleep.time_s < until_s:
            self._sleep.cancel()
            self._sleep = self.loop.at(until_s, self._fall_asleep)

    def start(self, job: Job) -> None:
        """Serve ``job`` now if awake; otherwise hold it and wake up (if not already waking)."""
        self._active += 1
        if self.awake:
            self._busy()
            self.inner.start(job)
            return
        self._held.append(job)
        if self._waking is None:
            self.wakeups += 1
            self._waking = self.loop.after(self.cold_start_s, self._woke)

    def close(self, end_s: float) -> None:
        """End of the simulation: count an awake backend's idle time up to ``end_s``."""
        if self.awake and self._idle_since is not None and end_s > self._idle_since:
            self.warm_waste_s += end_s - self._idle_since
            self._idle_since = end_s

    def _woke(self) -> None:
        self._waking = None
        self.awake = True
        if self.listener is not None:
            self.listener.warmed(self.name, self.loop.now)
        held, self._held = self._held, []
        for job in held:
            job.cold_wait_s += self.loop.now - job.granted_at_s
            self.inner.start(job)
        if self._active == 0:  # woken by a hint: awake with nothing to do yet
            self._idle()

    def _finished(self, job: Job) -> None:
        self._active -= 1
        if self._active == 0:
            self._idle()
        self.done(job)

    def _idle(self) -> None:
        now = self.loop.now
        self._idle_since = now
        if self.idle_sleep_s is not None:
            self._sleep = self.loop.at(
                max(now + self.idle_sleep_s, self._keep_until_s), self._fall_asleep
            )
        if self.listener is not None:
            self.listener.idle(self.name, now)

    def _busy(self) -> None:
        if self._idle_since is not None:
            self.warm_waste_s += self.loop.now - self._idle_since
            self._idle_since = None
        if self._sleep is not None:
            self._sleep.cancel()
            self._sleep = None

    def _fall_asleep(self) -> None:
        self._sleep = None
        self._busy()
        self.awake = False
        if self.listener is not None:
            self.listener.slept(self.name, self.loop.now)
