"""Tests for hermes_agents.config: TOML files into BackendConfig/Config, and every error case."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hermes_agents.config import (
    BACKEND_KEYS,
    DEFAULT_POLICY,
    BackendConfig,
    Config,
    find_config,
    load_config,
    parse_config,
)
from hermes_agents.cost import LLM_COST_FIELDS, CostModel, KVTier, LLMCost
from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph.model import StageKind

FULL = """\
[scheduler]
policy = "fifo"

[backends.llama]
kind = "llm"
max_concurrency = 4
token_budget = 8192
base_url = "http://127.0.0.1:8080"
cold_start_s = 3.0
idle_sleep_s = 60
prefill_s_per_token = 2e-4
decode_s_per_token = 0.03
request_s = 0.01
kv_tier = "cpu"
kv_load_s_per_token = { cpu = 3e-5 }

[backends.search]
kind = "tool"
max_concurrency = 16

[backends.embed]
kind = "embedding"
token_budget = 4096
base_url = "https://embed.example.com/v1"
"""

LLAMA_COST = LLMCost(
    prefill_s_per_token=2e-4,
    decode_s_per_token=0.03,
    request_s=0.01,
    kv_tier=KVTier.CPU,
    kv_load_s_per_token={KVTier.CPU: 3e-5},
)


def _write(tmp_path: Path, text: str, name: str = "hermes.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _error(path: Path) -> str:
    """The message of the ValidationError that loading ``path`` raises."""
    with pytest.raises(ValidationError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") or message.startswith(f"{path}, ")
    return message


# --- valid files -------------------------------------------------------------------------------


def test_full_file_round_trips_into_the_dataclasses(tmp_path: Path) -> None:
    path = _write(tmp_path, FULL)
    expected = Config(
        backends={
            "llama": BackendConfig(
                "llama", StageKind.LLM, 4, 8192, "http://127.0.0.1:8080", 3.0, 60.0, LLAMA_COST
            ),
            "search": BackendConfig("search", StageKind.TOOL, max_concurrency=16),
            "embed": BackendConfig(
                "embed",
                StageKind.EMBEDDING,
                token_budget=4096,
                base_url="https://embed.example.com/v1",
            ),
        },
        policy="fifo",
        source=path,
    )
    config = load_config(str(path))
    assert config == expected
    assert config.source == path
    assert list(config.backends) == ["llama", "search", "embed"]
    assert config.backend("llama").kind is StageKind.LLM
    assert type(config.backend("llama").idle_sleep_s) is float  # written as the int 60
    assert hash(config) == hash(load_config(path))


def test_defaults_when_keys_are_left_out(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, '[backends.b]\nkind = "llm"\n'))
    assert config.policy == DEFAULT_POLICY == "gittins"
    backend = config.backend("b")
    assert (backend.max_concurrency, backend.cold_start_s) == (1, 0.0)
    assert [backend.token_budget, backend.base_url, backend.idle_sleep_s, backend.cost] == [
        None
    ] * 4


def test_empty_file_is_valid_but_has_no_backends(tmp_path: Path) -> None:
    path = _write(tmp_path, "")
    config = load_config(path)
    assert config == Config(source=path)
    assert len(config.backends) == 0
    with pytest.raises(ValidationError) as info:
        config.backend("llama")
    message = str(info.value)
    assert message.startswith(f"{path}: backend 'llama' is not configured")
    assert "configured backends: none" in message
    assert "[backends.llama]" in message


def test_unknown_backend_lists_known_ones_and_how_to_add_one(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, FULL))
    with pytest.raises(ValidationError) as info:
        config.backend("mistral")
    message = str(info.value)
    assert "'mistral' is not configured" in message
    assert "configured backends: 'embed', 'llama', 'search'" in message
    assert "add a [backends.mistral] table with kind = one of 'llm', 'tool', 'embedding'" in message


def test_cost_profile_reaches_the_cost_model(tmp_path: Path) -> None:
    model = load_config(_write(tmp_path, FULL)).cost_model()
    assert isinstance(model, CostModel)
    assert model.for_backend("llama") == LLAMA_COST
    assert model.for_backend("llama").kv_load_s_per_token[KVTier.CPU] == 3e-5
    assert model.for_backend("llama").kv_load_s_per_token[KVTier.REMOTE] == 6e-5  # default
    assert model.for_backend("search") == LLMCost()
    assert set(model.llm) == {"llama"}


def test_backends_mapping_is_read_only(tmp_path: Path) -> None:
    source: dict[str, BackendConfig] = {"a": BackendConfig("a", StageKind.TOOL)}
    config = Config(source)
    source["b"] = BackendConfig("b", StageKind.TOOL)
    assert list(config.backends) == ["a"]  # a copy, not a view of the caller's dict
    with pytest.raises(TypeError):
        config.backends["c"] = BackendConfig("c", StageKind.TOOL)  # type: ignore[index]


def test_parse_config_accepts_a_mapping_without_a_source() -> None:
    data: dict[str, Any] = {"backends": {"t": {"kind": "tool", "max_concurrency": 2}}}
    config = parse_config(data)
    assert config.source is None
    assert config.backend("t") == BackendConfig("t", StageKind.TOOL, max_concurrency=2)
    with pytest.raises(ValidationError) as info:
        parse_config({"backends": {"t": {"kind": "tool", "max_concurrency": 0}}})
    assert str(info.value).startswith("backends.t, field 'max_concurrency': ")


# --- errors in backends ------------------------------------------------------------------------

BAD_BACKEND_VALUES = [
    ("max_concurrency", "0", "must be an integer >= 1, got int 0"),
    ("max_concurrency", "-2", "must be an integer >= 1"),
    ("max_concurrency", "true", "got bool True"),
    ("max_concurrency", "1.5", "got float 1.5"),
    ("max_concurrency", '"4"', "got str '4'"),
    ("token_budget", "0", "must be an integer >= 1"),
    ("token_budget", "false", "got bool False"),
    ("base_url", '"127.0.0.1:8080"', "must be an http:// or https:// URL"),
    ("base_url", '"ftp://host"', "must be an http:// or https:// URL"),
    ("base_url", '"http://"', "must be an http:// or https:// URL"),
    ("base_url", "8080", "got 8080"),
    ("cold_start_s", "-1", "must be finite and >= 0, got -1"),
    ("cold_start_s", "nan", "must be finite and >= 0, got nan"),
    ("cold_start_s", "inf", "must be finite and >= 0, got inf"),
    ("cold_start_s", '"3"', "must be a number of seconds, got str '3'"),
    ("cold_start_s", "true", "got bool True"),
    ("idle_sleep_s", "-0.5", "must be finite and >= 0"),
    ("kind", '"gpu"', "unknown kind 'gpu'; set kind = one of 'llm', 'tool', 'embedding'"),
    ("kind", "1", "unknown kind 1"),
    ("prefill_s_per_token", "-1e-4", "must be finite and >= 0"),
    ("decode_s_per_token", '"fast"', "expected a number"),
    ("kv_tier", '"disk"', "unknown KV tier 'disk'"),
]


@pytest.mark.parametrize(("key", "value", "problem"), BAD_BACKEND_VALUES)
def test_bad_backend_value_names_backend_and_field(
    tmp_path: Path, key: str, value: str, problem: str
) -> None:
    body = {"kind": '"llm"', key: value}
    text = "[backends.llama]\n" + "".join(f"{k} = {v}\n" for k, v in body.items())
    message = _error(_write(tmp_path, text))
    assert f"backends.llama, field '{key}': " in message
    assert problem in message


_LLAMA = '[backends.llama]\nkind = "llm"\n'
_TOOL = '[backends.search]\nkind = "tool"\n'
ERROR_CASES = {  # a file's text, and a part of the message after the path
    "missing kind": ("[backends.x]\nmax_concurrency = 2", "backends.x, field 'kind': is required"),
    "unknown key": (_LLAMA + "max_concurency = 4", "llama: unknown key(s) 'max_concurency'"),
    "did you mean": (_LLAMA + "max_concurency = 4", "(did you mean 'max_concurrency'?)"),
    "cost on tool": (_TOOL + "request_s = 0.2", "search, field 'request_s': cost key(s)"),
    "two costs": (
        _TOOL + "decode_s_per_token = 0\nrequest_s = 0",
        "decode_s_per_token, request_s apply to llm backends only",
    ),
    "cost on embedding": (
        '[backends.e]\nkind = "embedding"\nkv_tier = "cpu"',
        "backends.e, field 'kv_tier': cost key(s) kv_tier apply to llm backends only",
    ),
    "budget on tool": (_TOOL + "token_budget = 1", "field 'token_budget': tool calls carry no"),
    "load rate": (
        _LLAMA + "kv_load_s_per_token = {cpu = -1}",
        "backends.llama, field 'kv_load_s_per_token', tier 'cpu': must be finite",
    ),
    "backend not table": ("[backends]\nllama = 3", "backends.llama: must be a table"),
    "backends not table": ("backends = 3", "backends: must hold one [backends.NAME] table"),
    "quoted name": ('[backends."a b"]\nkind = "x"', "backends.\"a b\", field 'kind'"),
    "scheduler key": ("[scheduler]\nquantum = 3", "scheduler: unknown key(s) 'quantum'"),
    "scheduler value": ('scheduler = "fifo"', "scheduler: must be a table [scheduler]"),
    "syntax error": (_LLAMA + "max_concurrency = \n", "Invalid value (at line 3, column 19)"),
    "duplicate table": (_LLAMA + _LLAMA, "invalid TOML: Cannot declare ('backends', 'llama')"),
}


@pytest.mark.parametrize(("text", "part"), ERROR_CASES.values(), ids=ERROR_CASES.keys())
def test_error_names_table_and_field(tmp_path: Path, text: str, part: str) -> None:
    assert part in _error(_write(tmp_path, text))


def test_unknown_backend_key_lists_every_allowed_key(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, _LLAMA + "max_concurency = 4\n"))
    allowed = message.split("allowed keys: ")[1].split(", ")
    assert sorted(allowed) == sorted({*BACKEND_KEYS, *LLM_COST_FIELDS})


def test_cost_on_a_non_llm_backend_is_rejected_when_built_directly() -> None:
    with pytest.raises(ValidationError) as info:
        BackendConfig("search", StageKind.TOOL, cost=LLMCost())
    assert str(info.value) == (
        "backends.search, field 'cost': a cost profile applies to llm backends only"
    )


def test_direct_construction_validates_fields() -> None:
    with pytest.raises(ValidationError) as info:
        BackendConfig("llama", StageKind.LLM, max_concurrency=0)
    assert str(info.value).startswith("backends.llama, field 'max_concurrency': ")
    with pytest.raises(ValidationError, match="field 'name'"):
        BackendConfig("", StageKind.LLM)


def test_config_rejects_a_backend_under_another_name() -> None:
    with pytest.raises(ValidationError, match=r"backends\.b: expected the BackendConfig named"):
        Config({"b": BackendConfig("a", StageKind.TOOL)})


# --- errors at the top level and in [scheduler] ------------------------------------------------


def test_unknown_top_level_table(tmp_path: Path) -> None:
    path = _write(tmp_path, '[schedular]\npolicy = "gittins"\n')
    message = _error(path)
    assert message.startswith(f"{path}: unknown key(s) 'schedular'")
    assert "did you mean 'scheduler'?" in message
    assert "allowed keys: apps, backends, prewarm, scheduler" in message


@pytest.mark.parametrize(("value", "got"), [('""', "str ''"), ('"  "', "str '  '"), ("3", "int 3")])
def test_policy_must_be_a_non_empty_string(tmp_path: Path, value: str, got: str) -> None:
    message = _error(_write(tmp_path, f"[scheduler]\npolicy = {value}\n"))
    assert f"scheduler, field 'policy': must name a policy, such as 'gittins'; got {got}" in message


# --- errors reading the file -------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    assert _error(path) == f"{path}: config file not found; check the path"


def test_directory_is_not_a_config_file(tmp_path: Path) -> None:
    assert "config file unreadable" in _error(tmp_path)


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[scheduler]\npolicy = "caf\xe9"\n')
    assert "invalid TOML: 'utf-8' codec can't decode" in _error(path)


# --- find_config -------------------------------------------------------------------------------


def test_find_config_is_none_without_hermes_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HERMES_CONFIG", raising=False)
    assert find_config() is None


def test_find_config_loads_the_file_hermes_config_names(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = _write(tmp_path, FULL)
    monkeypatch.setenv("HERMES_CONFIG", str(path))
    assert find_config() == load_config(path)


def test_find_config_with_a_missing_file_points_at_hermes_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "absent.toml"
    monkeypatch.setenv("HERMES_CONFIG", str(path))
    with pytest.raises(ValidationError) as info:
        find_config()
    assert str(info.value) == (
        f"{path}: config file not found; point HERMES_CONFIG at an existing file, or unset it"
    )
