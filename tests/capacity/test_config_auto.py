"""``max_concurrency = "auto"`` in TOML and in code: what is accepted, and every bad value's
error naming the table, the field and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hermes_agents.config import BackendConfig, load_config, parse_config
from hermes_agents.config_capacity import AutoCapacity
from hermes_agents.errors import ValidationError
from hermes_agents.scheduling.default import backend_limits

URL = "http://127.0.0.1:8000"


def _backend(**fields: Any) -> BackendConfig:
    return parse_config({"backends": {"llm": {"kind": "llm", **fields}}}).backends["llm"]


def test_auto_in_toml_with_bounds(tmp_path: Path) -> None:
    path = tmp_path / "hermes.toml"
    path.write_text(
        f'[backends.llm]\nkind = "llm"\nbase_url = "{URL}"\nadapter = "vllm"\n'
        'max_concurrency = "auto"\n[backends.llm.auto]\nmin = 2\nmax = 64\npoll_s = 0.5\n',
        encoding="utf-8",
    )
    backend = load_config(path).backends["llm"]
    assert backend.max_concurrency == "auto"
    assert backend.auto == AutoCapacity(min=2, max=64, start=4, poll_s=0.5)
    assert backend.start_concurrency == 4
    assert backend_limits(load_config(path))["llm"].max_concurrency == 4


def test_auto_in_code() -> None:
    backend = BackendConfig("llm", "llm", max_concurrency="auto", auto=AutoCapacity(max=8))  # type: ignore[arg-type]
    assert (backend.max_concurrency, backend.auto, backend.adapter) == (
        "auto",
        AutoCapacity(max=8),
        None,
    )
    assert BackendConfig("api", "llm", max_concurrency="auto").auto == AutoCapacity()  # type: ignore[arg-type]


@pytest.mark.parametrize("adapter", ["llamacpp", "vllm", "sglang"])
def test_no_cap_means_auto_where_the_adapter_measures(adapter: str) -> None:
    assert _backend(base_url=URL, adapter=adapter).max_concurrency == "auto"
    prewarmed = _backend(base_url=URL, cold_start_s=1.0, prewarm={"adapter": adapter})
    assert (prewarmed.max_concurrency, prewarmed.adapter) == ("auto", adapter)


def test_no_cap_stays_one_where_nothing_measures() -> None:
    assert _backend().max_concurrency == 1
    assert _backend(adapter="ollama", base_url=URL).max_concurrency == 1
    assert _backend(adapter="vllm").max_concurrency == 1  # no URL to read
    assert _backend(auto={"max": 4}).max_concurrency == "auto"  # bounds alone ask for it
    assert _backend(max_concurrency=3, adapter="vllm", base_url=URL).max_concurrency == 3


@pytest.mark.parametrize(
    ("fields", "location", "says"),
    [
        ({"max_concurrency": "Auto"}, "field 'max_concurrency'", "(did you mean 'auto'?)"),
        ({"max_concurrency": "many"}, "field 'max_concurrency'", 'integer >= 1 or "auto"'),
        ({"max_concurrency": 0}, "field 'max_concurrency'", "must be an integer >= 1"),
        (
            {"max_concurrency": 4, "auto": {"max": 8}},
            "field 'auto'",
            'set max_concurrency = "auto"',
        ),
        ({"auto": {"min": 3, "max": 2}}, "field 'max'", "raise max or lower min"),
        ({"auto": {"min": 0}}, "field 'min'", "must be an integer >= 1"),
        ({"auto": {"start": 500}}, "field 'start'", "in [min, max] = [1, 256]"),
        ({"auto": {"poll_s": 0}}, "field 'poll_s'", "must be > 0 seconds"),
        ({"auto": {"poll_s": "1s"}}, "field 'poll_s'", "must be a number of seconds"),
        ({"auto": {"mx": 3}}, "auto", "(did you mean 'max'?)"),
        ({"auto": 8}, "field 'auto'", "must be a table such as auto = { min = 1, max = 64 }"),
        ({"adapter": "vlm"}, "field 'adapter'", "(did you mean 'vllm'?)"),
        ({"adapter": 3}, "field 'adapter'", "must name an adapter"),
        ({"max_concurrency": "auto", "adapter": "vllm"}, "field 'base_url'", "set its base_url"),
    ],
)
def test_bad_values_name_the_field_and_the_fix(
    fields: dict[str, Any], location: str, says: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_config({"backends": {"llm": {"kind": "llm", **fields}}}, Path("hermes.toml"))
    error = caught.value
    assert error.location[:2] == ("hermes.toml", "backends.llm")
    assert error.location[-1] == location
    assert says in error.problem
