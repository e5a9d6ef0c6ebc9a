"""Prewarming from the config file: ``[backends.NAME.prewarm]`` and ``[prewarm]`` into specs,
adapters and a scheduler that prewarms; every bad key or value named with its table."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from hermes_agents.backends.embeddings import EmbeddingsAdapter
from hermes_agents.backends.llamacpp import LlamaCppAdapter
from hermes_agents.backends.tools import ToolAdapter
from hermes_agents.config import Config, load_config, parse_config
from hermes_agents.config_prewarm import BackendPrewarm, PrewarmConfig
from hermes_agents.errors import ValidationError
from hermes_agents.prewarm import WarmupSpec
from hermes_agents.scheduling.default import scheduler_from_config
from hermes_agents.scheduling.prewarming import PrewarmSetup

GOOD = """\
[prewarm]
partial = true
memory = { gpu = 2 }

[backends.llm]
kind = "llm"
base_url = "http://127.0.0.1:8080"
cold_start_s = 1.5
idle_sleep_s = 1

[backends.llm.prewarm]
adapter = "llamacpp"
options = { prefix = "You are a helpful assistant.", timeout_s = 5 }

[backends.embed]
kind = "embedding"
base_url = "http://127.0.0.1:8081/v1"
idle_sleep_s = 30

[backends.embed.prewarm]
adapter = "embeddings"
threshold = 0.3
warmup_s = 4
pool = "gpu"
memory = 1.5
options = { model = "all-MiniLM-L6-v2" }

[backends.search]
kind = "tool"
"""

_LLM = """\
[backends.llm]
kind = "llm"
base_url = "http://127.0.0.1:8080"
cold_start_s = 1.5
idle_sleep_s = 1
"""
_PREWARM = '[backends.llm.prewarm]\nadapter = "llamacpp"\n'


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hermes.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _error(tmp_path: Path, text: str) -> str:
    path = _write(tmp_path, text)
    with pytest.raises(ValidationError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}, "), message
    return message


def test_a_good_file_gives_the_specs_options_and_settings(tmp_path: Path) -> None:
    prewarm = load_config(_write(tmp_path, GOOD)).prewarm
    assert prewarm is not None
    assert sorted(prewarm.backends) == ["embed", "llm"]  # search has no prewarm table
    assert prewarm.partial is True
    assert dict(prewarm.memory) == {"gpu": 2.0}
    assert prewarm.specs() == {
        "llm": WarmupSpec("llm", warmup_s=1.5, idle_sleep_s=1.0),  # warmup_s = cold_start_s
        "embed": WarmupSpec(
            "embed", warmup_s=4.0, threshold=0.3, idle_sleep_s=30.0, memory=1.5, pool="gpu"
        ),
    }
    llm = prewarm.backends["llm"]
    assert (llm.adapter, llm.base_url) == ("llamacpp", "http://127.0.0.1:8080")
    assert dict(llm.options) == {"prefix": "You are a helpful assistant.", "timeout_s": 5}
    embed = prewarm.backends["embed"]
    assert (embed.adapter, dict(embed.options)) == ("embeddings", {"model": "all-MiniLM-L6-v2"})


def test_adapters_are_built_with_the_backend_url_name_and_options(tmp_path: Path) -> None:
    prewarm = load_config(_write(tmp_path, GOOD)).prewarm
    assert prewarm is not None
    adapters = prewarm.adapters()
    try:
        llm, embed = adapters["llm"], adapters["embed"]
        assert isinstance(llm, LlamaCppAdapter)
        assert (llm.name, llm.url, llm.timeout_s) == ("llm", "http://127.0.0.1:8080", 5.0)
        assert llm.prefix == "You are a helpful assistant."
        assert isinstance(embed, EmbeddingsAdapter)
        assert (embed.name, embed.model) == ("embed", "all-MiniLM-L6-v2")
    finally:
        for adapter in adapters.values():
            adapter.close()


def test_no_prewarm_table_means_no_prewarming(tmp_path: Path) -> None:
    assert load_config(_write(tmp_path, _LLM)).prewarm is None
    # [prewarm] alone turns nothing on, but it is still checked
    assert load_config(_write(tmp_path, _LLM + "[prewarm]\npartial = true\n")).prewarm is None
    message = _error(tmp_path, _LLM + "[prewarm]\npartial = 1\n")
    assert "prewarm, field 'partial': must be true or false, got int 1" in message


def test_partial_left_out_keeps_the_setup_default(tmp_path: Path) -> None:
    prewarm = load_config(_write(tmp_path, _LLM + _PREWARM)).prewarm
    assert prewarm is not None
    assert prewarm.partial is None
    assert dict(prewarm.memory) == {}


ERROR_CASES = {
    "unknown adapter": (
        _LLM + '[backends.llm.prewarm]\nadapter = "llamcpp"\n',
        "backends.llm.prewarm, field 'adapter': unknown adapter 'llamcpp' "
        "(did you mean 'llamacpp'?)",
    ),
    "adapter missing": (
        _LLM + "[backends.llm.prewarm]\nthreshold = 0.5\n",
        "backends.llm.prewarm, field 'adapter': is required",
    ),
    "adapter not a string": (
        _LLM + "[backends.llm.prewarm]\nadapter = 3\n",
        "backends.llm.prewarm, field 'adapter': must be an adapter name, got int 3",
    ),
    "bad option": (
        _LLM + _PREWARM + 'options = { prefx = "hi" }\n',
        "backends.llm.prewarm.options, llamacpp adapter, field 'prefx': unknown option "
        "(did you mean 'prefix'?)",
    ),
    "bad option value": (
        _LLM + _PREWARM + "options = { timeout_s = -1 }\n",
        "backends.llm.prewarm.options, field 'timeout_s': must be a number of seconds > 0",
    ),
    "option of the wrong type": (
        _LLM + _PREWARM + "options = { prefixes = 3 }\n",
        "backends.llm.prewarm.options: the llamacpp adapter refused them: TypeError",
    ),
    "options not a table": (
        _LLM + _PREWARM + "options = 3\n",
        "backends.llm.prewarm, field 'options': must be a table of adapter options",
    ),
    "base_url in options": (
        _LLM + _PREWARM + 'options = { base_url = "http://x:1" }\n',
        "backends.llm.prewarm.options, field 'base_url': is set by hermes",
    ),
    "no base_url for an HTTP adapter": (
        '[backends.llm]\nkind = "llm"\ncold_start_s = 2\n' + _PREWARM,
        "backends.llm, field 'base_url': the llamacpp adapter needs the server's URL",
    ),
    "missing warm-up": (
        '[backends.llm]\nkind = "llm"\nbase_url = "http://127.0.0.1:8080"\n' + _PREWARM,
        "backends.llm.prewarm, field 'warmup_s': is missing and [backends.llm] cold_start_s "
        "is 0: set warmup_s here, or cold_start_s there",
    ),
    "zero warm-up": (
        _LLM + _PREWARM + "warmup_s = 0\n",
        "backends.llm.prewarm, field 'warmup_s': must be a finite number > 0",
    ),
    "threshold out of range": (
        _LLM + _PREWARM + "threshold = 1.5\n",
        "backends.llm.prewarm, field 'threshold': must be in (0, 1], got 1.5",
    ),
    "threshold not a number": (
        _LLM + _PREWARM + "threshold = true\n",
        "backends.llm.prewarm, field 'threshold': must be a finite number, got bool True",
    ),
    "memory without pool": (
        _LLM + _PREWARM + "memory = 2\n",
        "backends.llm.prewarm, field 'pool': memory needs pool",
    ),
    "pool without memory": (
        "[prewarm]\nmemory = { gpu = 4 }\n" + _LLM + _PREWARM + 'pool = "gpu"\n',
        "backends.llm.prewarm, field 'memory': pool needs memory",
    ),
    "pool without a budget": (
        "[prewarm]\nmemory = { gpu = 4 }\n" + _LLM + _PREWARM + 'pool = "gpux"\nmemory = 1\n',
        "backends.llm.prewarm, field 'pool': pool 'gpux' has no budget (did you mean 'gpu'?)",
    ),
    "zero memory": (
        "[prewarm]\nmemory = { gpu = 4 }\n" + _LLM + _PREWARM + 'pool = "gpu"\nmemory = 0\n',
        "backends.llm.prewarm, field 'memory': must be a finite number > 0",
    ),
    "unknown key": (
        _LLM + _PREWARM + "warmup = 2\n",
        "backends.llm.prewarm: unknown key(s) 'warmup' (did you mean 'warmup_s'?)",
    ),
    "prewarm not a table": (
        _LLM + "prewarm = true\n",
        "backends.llm.prewarm: must be a table [backends.llm.prewarm]",
    ),
    "idle sleep of zero": (
        '[backends.llm]\nkind = "llm"\nbase_url = "http://h:1"\ncold_start_s = 1\n'
        "idle_sleep_s = 0\n" + _PREWARM,
        "backends.llm, field 'idle_sleep_s': must be > 0 on a prewarmed backend",
    ),
    "bad partial": (
        '[prewarm]\npartial = "yes"\n' + _LLM + _PREWARM,
        "prewarm, field 'partial': must be true or false, got str 'yes'",
    ),
    "bad budget": (
        "[prewarm]\nmemory = { gpu = -1 }\n" + _LLM + _PREWARM,
        "prewarm.memory, field 'gpu': must be a finite number > 0",
    ),
    "memory not a table": (
        "[prewarm]\nmemory = 8\n" + _LLM + _PREWARM,
        "prewarm, field 'memory': must be a table of pool = budget",
    ),
    "unknown [prewarm] key": (
        "[prewarm]\npartail = true\n" + _LLM + _PREWARM,
        "prewarm: unknown key(s) 'partail' (did you mean 'partial'?)",
    ),
    "[prewarm] not a table": ("prewarm = 1\n" + _LLM, "prewarm: must be a table [prewarm]"),
}


@pytest.mark.parametrize(("text", "part"), ERROR_CASES.values(), ids=ERROR_CASES.keys())
def test_every_bad_key_or_value_is_named(tmp_path: Path, text: str, part: str) -> None:
    message = _error(tmp_path, text)
    assert part in message, message


def test_a_prewarmed_backend_must_be_configured() -> None:
    spec = WarmupSpec("ghost", warmup_s=1.0)
    prewarm = PrewarmConfig({"ghost": BackendPrewarm("tools", spec, "http://h:1/warm")})
    with pytest.raises(ValidationError, match=r"backends\.ghost\.prewarm: backend 'ghost' is"):
        Config({}, prewarm=prewarm)
    with pytest.raises(ValidationError, match="its spec is for backend 'ghost'"):
        PrewarmConfig({"other": BackendPrewarm("tools", spec)})


# --- the scheduler built from it --------------------------------------------------------------

HOOKED = """\
[prewarm]
memory = { gpu = 1 }

[backends.dnn]
kind = "tool"
base_url = "http://127.0.0.1:9/warm"
cold_start_s = 5
idle_sleep_s = 30

[backends.dnn.prewarm]
adapter = "tools"
pool = "gpu"
memory = 1
options = { timeout_s = 3 }
"""


def test_scheduler_from_config_prewarms_with_the_configured_adapter(tmp_path: Path) -> None:
    scheduler = scheduler_from_config(load_config(_write(tmp_path, HOOKED)))
    try:
        assert scheduler.prewarmer is not None
        adapter = scheduler.prewarmer.adapters["dnn"]
        assert isinstance(adapter, ToolAdapter)
        assert (adapter.name, adapter.hook_url) == ("dnn", "http://127.0.0.1:9/warm")
        assert scheduler.prewarmer.specs["dnn"] == WarmupSpec(
            "dnn", warmup_s=5.0, idle_sleep_s=30.0, memory=1.0, pool="gpu"
        )
        planner = scheduler.core.planner
        assert planner is not None
        assert planner.memory == {"gpu": 1.0}
        default = next(f for f in dataclasses.fields(PrewarmSetup) if f.name == "partial")
        assert planner.partial is default.default  # partial left out: the setup's default
    finally:
        scheduler.close()


def test_partial_from_the_file_reaches_the_planner(tmp_path: Path) -> None:
    text = HOOKED.replace("[prewarm]\n", "[prewarm]\npartial = true\n")
    scheduler = scheduler_from_config(load_config(_write(tmp_path, text)))
    try:
        assert scheduler.core.planner is not None
        assert scheduler.core.planner.partial is True
    finally:
        scheduler.close()


def test_without_prewarm_tables_the_scheduler_does_not_prewarm() -> None:
    scheduler = scheduler_from_config(parse_config({"backends": {"llm": {"kind": "llm"}}}))
    assert scheduler.prewarmer is None
    assert scheduler.core.planner is None
