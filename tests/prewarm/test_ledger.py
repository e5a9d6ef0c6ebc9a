"""The ledger on scripted event sequences: every hint ends in exactly one outcome."""

from __future__ import annotations

import pytest

from hermes_agents.prewarm import PrewarmLedger, WarmHint, WarmupSpec


def wake(at_s: float, backend: str = "dnn") -> WarmHint:
    return WarmHint(backend, "app", "r1", 0.9, 5.0, at_s, "wake")


def keep(at_s: float, keep_s: float = 10.0) -> WarmHint:
    return WarmHint("dnn", "app", "r1", 0.9, 5.0, at_s, "keep_awake", keep_s)


def ledger() -> PrewarmLedger:
    return PrewarmLedger.from_specs({"dnn": WarmupSpec("dnn", warmup_s=5.0, idle_sleep_s=10.0)})


def totals(book: PrewarmLedger) -> dict[str, float]:
    counts = book.snapshot()["total"]
    outcomes = ("hits", "late", "unused", "covered", "open")
    assert sum(counts[key] for key in outcomes) == counts["hints"]
    return counts


def test_a_wake_used_after_it_completed_is_a_hit_and_its_idle_wait_is_waste() -> None:
    book = ledger()
    book.hinted(wake(0.0))
    book.warmed("dnn", 5.0)
    book.idle("dnn", 5.0)
    book.arrived("dnn", "r1", 8.0, warm=True)
    book.arrived("dnn", "r2", 8.5, warm=True)  # later arrivals are ordinary traffic
    counts = totals(book)
    assert (counts["hits"], counts["cold_wait_hidden_s"], counts["hint_waste_s"]) == (1, 5.0, 3.0)
    assert book.snapshot()["dnn"]["wake_hints"] == 1


def test_an_arrival_during_the_warm_up_is_late_and_hides_what_was_done() -> None:
    book = ledger()
    book.hinted(wake(10.0))
    book.arrived("dnn", "r1", 12.0, warm=False)
    counts = totals(book)
    assert (counts["late"], counts["cold_wait_hidden_s"], counts["hint_waste_s"]) == (1, 2.0, 0.0)


def test_a_wake_nobody_used_wastes_all_its_warm_time() -> None:
    book = ledger()
    book.hinted(wake(0.0))
    book.warmed("dnn", 5.0)
    book.idle("dnn", 5.0)
    assert totals(book)["open"] == 1
    book.slept("dnn", 15.0)
    counts = totals(book)
    assert (counts["unused"], counts["hint_waste_s"], counts["open"]) == (1, 10.0, 0)


def test_keep_awake_counts_only_past_the_moment_it_would_have_slept() -> None:
    book = ledger()
    book.idle("dnn", 0.0)  # asleep by itself at 10
    book.hinted(keep(8.0))
    book.arrived("dnn", "r1", 14.0, warm=True)
    counts = totals(book)
    assert (counts["hits"], counts["hint_waste_s"], counts["cold_wait_hidden_s"]) == (1, 4.0, 5.0)
    assert counts["keep_hints"] == 1


def test_keep_awake_before_the_natural_sleep_changes_nothing_and_an_unused_one_is_waste() -> None:
    book = ledger()
    book.idle("dnn", 0.0)
    book.hinted(keep(8.0))
    book.arrived("dnn", "r1", 9.0, warm=True)  # it would still have been awake
    book.idle("dnn", 10.0)  # next natural sleep at 20
    book.hinted(keep(18.0))
    book.slept("dnn", 28.0)
    counts = totals(book)
    assert (counts["covered"], counts["unused"], counts["hint_waste_s"]) == (1, 1, 8.0)


def test_hints_while_busy_or_while_another_is_open_are_covered() -> None:
    book = ledger()
    book.arrived("dnn", "r0", 0.0, warm=True)
    book.hinted(keep(1.0))  # busy: it is awake anyway
    book.idle("dnn", 2.0)
    book.slept("dnn", 12.0)
    book.hinted(wake(20.0))
    book.hinted(wake(21.0))  # the first wake is still open
    book.warmed("dnn", 25.0)
    book.arrived("dnn", "r1", 25.0, warm=True)
    counts = totals(book)
    assert (counts["hints"], counts["covered"], counts["hits"]) == (3, 2, 1)
    assert counts["hint_waste_s"] == pytest.approx(0.0)


def test_backends_are_counted_apart_and_totalled() -> None:
    book = PrewarmLedger({"dnn": 5.0, "gpu": 3.0})
    book.hinted(wake(0.0, "dnn"))
    book.hinted(wake(0.0, "gpu"))
    book.slept("gpu", 9.0)  # never finished waking, nobody came
    snapshot = book.snapshot()
    assert set(snapshot) == {"dnn", "gpu", "total"}
    assert (snapshot["gpu"]["unused"], snapshot["gpu"]["hint_waste_s"]) == (1, 0.0)
    assert snapshot["total"]["hints"] == 2
    assert isinstance(snapshot["total"]["hits"], int)
