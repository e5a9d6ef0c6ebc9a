"""The extremes of ``sheddable_share`` and ``reserve_window_s`` that are valid (a share of
1e-300, a window of 1e308 s) make a scheduler whose headroom still lets sheddable work run (at
least one slot) and never raises; the hostile numbers refused are in ``test_config_reserve``."""

from __future__ import annotations

from pathlib import Path

from hermes_agents.config import load_config
from hermes_agents.scheduling.default import scheduler_from_config
from hermes_agents.scheduling.reserve import sheddable_slots
from hermes_agents.scheduling.state import Usage
from hermes_agents.scheduling.ticket import Answer, Ticket
from tests.test_config_reserve import TOML


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
