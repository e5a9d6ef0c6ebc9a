"""Hostile numbers in ``sheddable_share`` and ``reserve_window_s`` (TOML's ``inf`` and ``nan``,
1e308, negatives, booleans, integers past any float): refused when the file is loaded, with the
field named; the extremes that are valid (a share of 1e-300, a window of 1e308 s) make a
scheduler whose headroom still lets sheddable work run (at least one slot) and never raises."""

from __future__ import annotations

from pathlib import Path

import pytest

from hermes_agents.config import load_config
from hermes_agents.errors import ValidationError
from hermes_agents.scheduling.default import scheduler_from_config
from hermes_agents.scheduling.reserve import sheddable_slots
from hermes_agents.scheduling.state import Usage
from hermes_agents.scheduling.ticket import Answer, Ticket

TOML = """\
[scheduler]
policy = "gittins+tiers"

[backends.llama]
kind = "llm"
max_concurrency = 8
{extra}
"""


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ("sheddable_share = inf", "sheddable_share"),
        ("sheddable_share = -inf", "sheddable_share"),
        ("sheddable_share = 1e308", "sheddable_share"),
        ("sheddable_share = -0.5", "sheddable_share"),
        ("sheddable_share = -0.0", "sheddable_share"),
        ("sheddable_share = 1000000000000000000000000000000", "sheddable_share"),
        ("sheddable_share = 1.0000000000000002", "sheddable_share"),
        ("sheddable_share = false", "sheddable_share"),
        ("sheddable_share = [0.5]", "sheddable_share"),
        ("reserve_window_s = inf", "reserve_window_s"),
        ("reserve_window_s = nan", "reserve_window_s"),
        ("reserve_window_s = -1", "reserve_window_s"),
        ("reserve_window_s = -0.0", "reserve_window_s"),
        ("reserve_window_s = true", "reserve_window_s"),
        ('reserve_window_s = "30"', "reserve_window_s"),
        ("reserve_window_s = 1e999", "reserve_window_s"),
    ],
)
def test_hostile_numbers_are_refused_naming_the_field(
    tmp_path: Path, extra: str, field: str
) -> None:
    path = tmp_path / "hermes.toml"
    path.write_text(TOML.format(extra=extra), encoding="utf-8")
    with pytest.raises(ValidationError, match=f"field '{field}'") as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}, backends.llama")


def test_valid_extremes_keep_one_slot_for_sheddable_work(tmp_path: Path) -> None:
    path = tmp_path / "hermes.toml"
    path.write_text(
        TOML.format(extra="sheddable_share = 1e-300\nreserve_window_s = 1e308"), encoding="utf-8"
    )
    scheduler = scheduler_from_config(load_config(path))
    try:
        limits = scheduler.core.backends["llama"].limits
        assert sheddable_slots(limits) == 1
        with scheduler.run("chat", tier="critical"), scheduler.slot("llama"):
            pass  # higher-tier work was about: the headroom holds for 1e308 s
        with scheduler.run("batch", tier="sheddable") as scope:
            first = Ticket("llama", run_id=scope.run_id)
            second = Ticket("llama", run_id=scope.run_id)
            scheduler.submit(first)
            scheduler.submit(second)
            assert first.answer is Answer.GRANTED  # one slot: sheddable work never stops
            assert second.answer is None  # the rest is kept for higher tiers
            scheduler.release(first, Usage(seconds=0.01))
            assert second.wait(5) is Answer.GRANTED
            scheduler.release(second, Usage(seconds=0.01))
    finally:
        scheduler.close()
