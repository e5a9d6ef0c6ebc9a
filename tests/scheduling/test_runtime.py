"""The in-process runtime: capacity, wake-ups, and release on every exit path."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from hermes_agents.scheduling import BackendLimits, Usage
from hermes_agents.scheduling.runtime import LocalScheduler
from tests.doubles import Gauge, RecordingModels


def assert_no_leak(scheduler: LocalScheduler) -> None:
    core = scheduler.core
    assert core.tasks == {}
    assert core.runs == {}
    for state in core.backends.values():
        assert state.running == {}
        assert state.waiting == {}
        assert state.tokens_running == 0


def test_thousand_concurrent_async_apps_respect_capacity_and_leak_nothing() -> None:
    scheduler = LocalScheduler.in_process({"llm": BackendLimits(4)}, policy="gittins")
    gauge = Gauge()

    async def app(index: int) -> int:
        async with scheduler.run(f"app{index % 7}"):
            for turn in range(2):
                scheduler.enter_stage(f"turn{turn}")
                async with scheduler.slot("llm", estimate_s=0.001):
                    with gauge:
                        await asyncio.sleep(0)
        return index

    async def main() -> list[int]:
        return await asyncio.gather(*(app(i) for i in range(1000)))

    assert sorted(asyncio.run(main())) == list(range(1000))
    assert gauge.peak == 4
    assert scheduler.core.backends["llm"].granted == 2000
    assert_no_leak(scheduler)
    assert scheduler.unscheduled_calls == 0


def test_worker_threads_share_the_capacity() -> None:
    scheduler = LocalScheduler.in_process({"tool": BackendLimits(2)})
    gauge = Gauge()

    def worker() -> None:
        for _ in range(25):
            with scheduler.slot("tool"), gauge:
                time.sleep(0.0005)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert gauge.peak == 2
    assert_no_leak(scheduler)


def test_user_exception_passes_through_unchanged_and_releases() -> None:
    scheduler = LocalScheduler.in_process({"llm": BackendLimits(1)})
    error = KeyError("mine")
    with pytest.raises(KeyError) as caught, scheduler.slot("llm"):
        raise error
    assert caught.value is error
    assert_no_leak(scheduler)


def test_sync_timeout_withdraws_the_waiting_task() -> None:
    scheduler = LocalScheduler.in_process({"llm": BackendLimits(1)})
    with scheduler.slot("llm"):
        waiter_failed = []

        def waiter() -> None:
            try:
                with scheduler.slot("llm", timeout=0.05):
                    pass
            except TimeoutError:
                waiter_failed.append(True)

        thread = threading.Thread(target=waiter)
        thread.start()
        thread.join()
        assert waiter_failed == [True]
        assert len(scheduler.core.backends["llm"].waiting) == 0
    assert_no_leak(scheduler)


def test_async_cancellation_while_waiting_and_while_holding() -> None:
    scheduler = LocalScheduler.in_process({"llm": BackendLimits(1)})

    async def hold(event: asyncio.Event) -> None:
        async with scheduler.slot("llm"):
            event.set()
            await asyncio.sleep(10)

    async def main() -> None:
        held = asyncio.Event()
        holder = asyncio.create_task(hold(held))
        await held.wait()
        waiter = asyncio.create_task(hold(asyncio.Event()))
        await asyncio.sleep(0.01)
        assert len(scheduler.core.backends["llm"].waiting) == 1
        waiter.cancel()
        holder.cancel()
        for task in (waiter, holder):
            with pytest.raises(asyncio.CancelledError):
                await task
        async with scheduler.slot("llm", timeout=1):  # the slot really came back
            pass

    asyncio.run(main())
    assert_no_leak(scheduler)


def test_async_timeout_raises_timeout_error() -> None:
    scheduler = LocalScheduler.in_process({"llm": BackendLimits(1)})

    async def main() -> None:
        async with scheduler.slot("llm"):
            with pytest.raises(TimeoutError):
                async with scheduler.slot("llm", timeout=0.02):
                    pass

    asyncio.run(main())
    assert_no_leak(scheduler)


def test_scheduler_failure_fails_open_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    scheduler = LocalScheduler.in_process({"llm": BackendLimits(1)})
    scheduler.core.default_limits = None  # unknown backends now raise inside the core
    ran = []
    for _ in range(3):
        with scheduler.slot("nowhere"):
            ran.append(True)
    assert ran == [True] * 3
    assert scheduler.unscheduled_calls == 3
    assert sum("continue unscheduled" in r.message for r in caplog.records) == 1


def test_runs_feed_the_learner() -> None:
    scheduler = LocalScheduler.in_process({"tool": BackendLimits(2)})
    for _ in range(3):
        with scheduler.run("pipeline"):
            with scheduler.slot("tool", stage="fetch"):
                pass
            with scheduler.slot("tool", stage="parse"):
                pass
    graph = scheduler.core.models.graph("pipeline")  # type: ignore[union-attr]
    assert graph is not None
    assert graph.successors("fetch") == {"parse": 1.0}
    assert graph.successors("parse") == {"END": 1.0}


def test_named_visits_keep_parallel_branches_apart() -> None:
    scheduler = LocalScheduler.in_process({"llm": BackendLimits(8)})
    recorder = RecordingModels()
    scheduler.core.models = recorder
    with scheduler.run("fanout"):
        scheduler.enter_stage("plan", visit="plan@1")
        with scheduler.slot("llm", stage="plan", visit="plan@1") as slot:
            slot.usage = Usage(seconds=1.0)
        slots = [scheduler.slot("llm", stage="work", visit="work@2") for _ in range(3)]
        other = scheduler.slot("llm", stage="check", visit="check@2")
        for each in [*slots, other]:
            each.__enter__()  # parallel branches of step 2, interleaved
        for each in [other, *slots]:
            each.usage = Usage(seconds=0.5)
            each.__exit__(None, None, None)
    ((_, trace),) = recorder.runs
    assert [(visit.stage, len(visit.calls)) for visit in trace] == [
        ("plan", 1),
        ("work", 3),
        ("check", 1),
    ]


def test_a_slot_knows_its_runs_rank_once_admitted() -> None:
    scheduler = LocalScheduler.in_process({"llm": BackendLimits(1)})
    with scheduler.run("qa"), scheduler.slot("llm", estimate_s=2.5) as slot:
        assert slot.rank == 2.5  # no model yet: the call's estimate
    assert scheduler.slot("llm").rank is None  # not admitted
