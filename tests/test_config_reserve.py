"""``sheddable_share`` and ``reserve_window_s`` in ``[backends.NAME]``: validated when the file
is loaded (errors name the file, the table and the field), defaults, and carried into the
scheduler's limits (``scheduler_from_config``: the in-process scheduler and ``hermes serve``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hermes_agents.config import load_config, parse_config
from hermes_agents.errors import ValidationError
from hermes_agents.scheduling.default import scheduler_from_config
from hermes_agents.scheduling.tiers import DEFAULT_RESERVE_WINDOW_S, DEFAULT_SHEDDABLE_SHARE

TOML = """\
[scheduler]
policy = "gittins+tiers"

[backends.llama]
kind = "llm"
max_concurrency = 8
{extra}
"""


def test_the_headroom_reaches_the_schedulers_limits(tmp_path: Path) -> None:
    path = tmp_path / "hermes.toml"
    path.write_text(TOML.format(extra="sheddable_share = 0.25\nreserve_window_s = 5"))
    config = load_config(path)
    llama = config.backends["llama"]
    assert (llama.sheddable_share, llama.reserve_window_s) == (0.25, 5.0)
    scheduler = scheduler_from_config(config, auto=False)
    try:
        limits = scheduler.core.backends["llama"].limits
        assert (limits.sheddable_share, limits.reserve_window_s) == (0.25, 5.0)
        assert scheduler.core.tiered
    finally:
        scheduler.close()


def test_the_defaults() -> None:
    backend = parse_config({"backends": {"llama": {"kind": "llm", "max_concurrency": 8}}})
    llama = backend.backends["llama"]
    assert (llama.sheddable_share, llama.reserve_window_s) == (
        DEFAULT_SHEDDABLE_SHARE,
        DEFAULT_RESERVE_WINDOW_S,
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("sheddable_share = 0", r"field 'sheddable_share': must be a share in \(0, 1\]"),
        ("sheddable_share = 1.5", "got float 1.5"),
        ("sheddable_share = nan", "got float nan"),
        ("sheddable_share = true", "got bool True"),
        ('sheddable_share = "1/4"', "got str '1/4'"),
        ("reserve_window_s = 0", "field 'reserve_window_s': must be > 0 seconds"),
        ("reserve_window_s = -inf", "field 'reserve_window_s': must be finite"),
        ("sheddable_shares = 0.5", "did you mean 'sheddable_share'"),
        # hostile numbers (TOML's inf and nan, 1e308, negatives, booleans, integers past any
        # float): refused, the field named
        ("sheddable_share = inf", "field 'sheddable_share'"),
        ("sheddable_share = -inf", "field 'sheddable_share'"),
        ("sheddable_share = 1e308", "field 'sheddable_share'"),
        ("sheddable_share = -0.5", "field 'sheddable_share'"),
        ("sheddable_share = -0.0", "field 'sheddable_share'"),
        ("sheddable_share = 1000000000000000000000000000000", "field 'sheddable_share'"),
        ("sheddable_share = 1.0000000000000002", "field 'sheddable_share'"),
        ("sheddable_share = false", "field 'sheddable_share'"),
        ("sheddable_share = [0.5]", "field 'sheddable_share'"),
        ("reserve_window_s = inf", "field 'reserve_window_s'"),
        ("reserve_window_s = nan", "field 'reserve_window_s'"),
        ("reserve_window_s = -1", "field 'reserve_window_s'"),
        ("reserve_window_s = -0.0", "field 'reserve_window_s'"),
        ("reserve_window_s = true", "field 'reserve_window_s'"),
        ('reserve_window_s = "30"', "field 'reserve_window_s'"),
        ("reserve_window_s = 1e999", "field 'reserve_window_s'"),
    ],
)
def test_bad_values_name_the_file_table_and_field(tmp_path: Path, extra: str, message: str) -> None:
    path = tmp_path / "hermes.toml"
    path.write_text(TOML.format(extra=extra))
    with pytest.raises(ValidationError, match=message) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}, backends.llama")
