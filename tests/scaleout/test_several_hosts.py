"""One scheduler across hosts, on a real redis-server: app processes in three network
namespaces (hosts A, B, C) share one backend of capacity 1 through ``HERMES_SCHEDULER=redis://``
and every call is checked where it lands, at the recording backend (``conftest.py``).

Slots are freed by the test (a call held at a gate), not by sleeps: what each test asserts is
an order or a count. The lease tests bound how long a dead host's slot stays taken by a few
lease TTLs: a correctness bound (the slot does come back), far above the expected TTL.
"""

from __future__ import annotations

import time

from tests.scaleout.conftest import LEASE_TTL_S, Apps

EXPIRY_BOUND_S = 3 * LEASE_TTL_S + 2.0
"""A slot of a dead or cut-off host must be free again by then (expected: about one TTL)."""
CUT_RUNS = 20
"""Runs (one call each) of the app on the host whose link is cut."""
CUT_PAUSE_S = 0.2
"""Its pause between runs."""
RESUMED_WITHIN_S = 2.5
"""After a Redis restart, calls later than this are scheduled again (capacity 1 holds): an
unscheduled process tries Redis again at most every second (``DEFAULT_RETRY_S``)."""


def ok(result: dict[str, object], calls: int) -> None:
    """The process made all its calls: none lost, none raised."""
    assert result["errors"] == []
    assert result["calls"] == calls


def test_capacity_one_holds_across_hosts(apps: Apps) -> None:
    flags = ("--runs", "3", "--calls", "2", "--parallel", "--ms", "40")
    started = [apps.start(host, f"app{host}", *flags) for host in "ABC"]
    for app in started:
        result = app.result()
        ok(result, 6)
        assert result["unscheduled_calls"] == 0  # every call went through Redis
    assert len(apps.recorder.calls) == 18
    assert apps.recorder.max_in_flight == 1, apps.recorder.summary()
    assert apps.redis.granted() == 18  # each call granted once, by Redis


def test_a_short_app_on_b_overtakes_a_long_apps_queued_calls_from_a(apps: Apps) -> None:
    blocker = apps.start("C", "blocker", "--gate", "g", "--prior-s", "0.01")
    apps.wait_for(1, 20, app="blocker")  # C holds the only slot
    long = apps.start("A", "long", "--calls", "4", "--parallel", "--prior-s", "5", "--ms", "20")
    apps.wait_waiting(4)  # A's four calls queue first
    short = apps.start("B", "short", "--prior-s", "0.05", "--ms", "20")
    apps.wait_waiting(5)
    apps.recorder.open_gate("g")
    for app, calls in ((blocker, 1), (long, 4), (short, 1)):
        ok(app.result(), calls)
    order = [call.app for call in apps.recorder.calls]
    # by arrival B would be last; by Gittins rank (short: 0.05 s left, long: 20 s) it is next
    assert order == ["blocker", "short", "long", "long", "long", "long"], order
    assert apps.recorder.max_in_flight == 1


def test_kill_9_of_a_host_gives_its_slot_back_within_the_lease_ttl(apps: Apps) -> None:
    # A holds the slot and has a second call waiting; both die with A
    holder = apps.start("A", "holder", "--calls", "2", "--parallel", "--gate", "never")
    apps.wait_for(1, 20, app="holder")
    apps.wait_waiting(1)
    waiter = apps.start("B", "waiter")
    apps.wait_waiting(2)
    killed_at = time.monotonic()
    apps.net.kill(holder.process)  # kill -9 of the process group: no release, no renewal
    calls = apps.wait_for(1, EXPIRY_BOUND_S + 5, app="waiter")
    freed_after_s = next(c for c in calls if c.app == "waiter").started_s - killed_at
    print(f"slot back {freed_after_s:.2f} s after kill -9 (lease TTL {LEASE_TTL_S} s)")
    assert freed_after_s <= EXPIRY_BOUND_S
    result = waiter.result()
    ok(result, 1)
    assert result["unscheduled_calls"] == 0  # B's call was granted, not failed open
    assert apps.redis.granted() == 2  # the dead process's waiting ticket was never granted
    assert apps.redis.waiting() == 0


def test_a_hung_host_loses_its_slot_and_its_late_release_frees_nothing(apps: Apps) -> None:
    hung = apps.start("A", "hung", "--gate", "ga")
    apps.wait_for(1, 20, app="hung")
    holder = apps.start("B", "holder", "--gate", "gb")
    apps.wait_waiting(1)
    apps.net.pause(hung.process)  # SIGSTOP: A renews nothing, releases nothing
    apps.wait_for(1, EXPIRY_BOUND_S + 5, app="holder")  # A's lease expired
    apps.net.resume(hung.process)
    apps.recorder.open_gate("ga")  # A's call ends after its lease is gone: its release
    result = hung.result()  # must not free B's slot
    ok(result, 1)
    assert int(str(result["unscheduled_calls"])) == 1  # it ran on unscheduled, counted
    third = apps.start("C", "third")
    apps.wait_waiting(1)  # C waits: B still holds the only slot
    assert [c.app for c in apps.recorder.calls] == ["hung", "holder"]
    apps.recorder.open_gate("gb")
    ok(holder.result(), 1)
    ok(third.result(), 1)
    holder_call, third_call = apps.recorder.calls[1], apps.recorder.calls[2]
    assert holder_call.ended_s is not None
    assert third_call.started_s >= holder_call.ended_s
    assert apps.redis.granted() == 3


def test_a_cut_link_expires_the_hosts_leases_and_the_host_fails_open(apps: Apps) -> None:
    # A's first call holds the slot; its later runs' calls come while A is cut off, and after
    cut = apps.start(
        "A", "cut", "--runs", str(CUT_RUNS), "--gate", "ga", "--pause-s", str(CUT_PAUSE_S)
    )
    apps.wait_for(1, 20, app="cut")
    other = apps.start("B", "other")
    apps.wait_waiting(1)
    cut_at = time.monotonic()
    apps.net.cut("A")
    calls = apps.wait_for(1, EXPIRY_BOUND_S + 5, app="other")
    freed_after_s = next(c for c in calls if c.app == "other").started_s - cut_at
    print(f"slot back {freed_after_s:.2f} s after the cut (lease TTL {LEASE_TTL_S} s)")
    assert freed_after_s <= EXPIRY_BOUND_S
    ok(other.result(), 1)
    # A's held call ends while A cannot reach Redis; its next runs' calls run unscheduled
    apps.recorder.open_gate("ga")
    opened_at = time.monotonic()
    apps.wait_for(4, 60, app="cut")
    granted_at_mend = apps.redis.granted()
    apps.net.mend("A")
    result = cut.result(timeout_s=90)
    ok(result, CUT_RUNS)
    unscheduled = int(str(result["unscheduled_calls"]))
    waits = [line["started_s"] - line["asked_s"] for line in cut.lines if "asked_s" in line]
    # between the held call's end and run 1's first call: its release and the run's end
    blocked_s = cut.lines[1]["asked_s"] - opened_at - CUT_PAUSE_S
    print(
        f"cut host: {unscheduled} of {CUT_RUNS} calls unscheduled; release + end of run "
        f"took {blocked_s:.2f} s; waits for a slot (s): {', '.join(f'{w:.2f}' for w in waits)}"
    )
    assert 3 <= unscheduled < CUT_RUNS  # at least the 3 calls made while cut off
    # neither the release nor the end of the run waits on the cut link (command timeout 2 s)
    assert blocked_s < 1.0
    assert apps.redis.granted() > granted_at_mend  # scheduled again once the link is back
    assert [c.app for c in apps.recorder.calls].count("cut") == CUT_RUNS
    # the call that held the slot went on after its lease expired: it counts as unscheduled,
    # so when the next call (run 1's, made while cut off) has ended, two are counted
    assert int(cut.lines[1]["unscheduled_calls"]) >= 2


def test_kill_9_and_restart_of_redis_loses_no_call_and_scheduling_resumes(apps: Apps) -> None:
    flags = ("--runs", "60", "--ms", "40", "--pause-s", "0.01")
    started = [apps.start(host, f"app{host}", *flags) for host in "AB"]
    apps.wait_for(8, 30)
    apps.redis.kill9()  # every queue and lease is gone with it
    time.sleep(0.5)
    apps.redis.start()
    restarted_at = time.monotonic()
    results = [app.result(timeout_s=90) for app in started]
    for result in results:
        ok(result, 60)  # 0 lost calls, no waiter left hanging
    calls = apps.recorder.calls
    assert len(calls) == 120
    granted = apps.redis.granted()
    after = [c for c in calls if c.started_s > restarted_at + RESUMED_WITHIN_S]
    print(
        f"restart: {granted} calls granted by the new Redis, "
        f"{sum(int(str(r['unscheduled_calls'])) for r in results)} unscheduled; "
        f"{len(after)} calls later than {RESUMED_WITHIN_S} s after it"
    )
    assert granted >= 1, "the restarted Redis never scheduled a call"
    assert len(after) >= 5, "too few calls after the restart to see scheduling resume"
    assert max(c.in_flight for c in after) == 1, apps.recorder.summary()
