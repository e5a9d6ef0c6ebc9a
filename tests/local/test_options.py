"""ServerOptions: validated values, and llama-server-style flags both ways."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hermes_agents.errors import ValidationError
from hermes_agents.local import LlamaServer, ServerOptions


def test_flags_round_trip() -> None:
    options = ServerOptions(
        slots=4,
        ctx_tokens=4096,
        sleep_idle_s=30,
        embeddings=True,
        pooling="cls",
        threads=2,
        port=8080,
        alias="smol",
    )
    args = options.to_args()
    assert args[args.index("--parallel") + 1] == "4"
    assert args[args.index("--sleep-idle-seconds") + 1] == "30"
    assert ServerOptions.from_args(args) == options
    assert ServerOptions.from_args(ServerOptions().to_args()) == ServerOptions()


def test_defaults_leave_optional_flags_out() -> None:
    args = ServerOptions().to_args()
    assert not {"--sleep-idle-seconds", "--embeddings", "--threads", "--alias"} & set(args)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("slots", 0),
        ("ctx_tokens", -1),
        ("ctx_tokens", 8),
        ("sleep_idle_s", 0),
        ("threads", 0),
        ("port", 70000),
        ("pooling", "median"),
    ],
)
def test_bad_values_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=f"field '{field}'"):
        ServerOptions(**{field: value})  # type: ignore[arg-type]


def test_llama_server_validates_its_options() -> None:
    with pytest.raises(ValidationError, match="field 'slots'"):
        LlamaServer("model.gguf", slots=0)


def test_model_name_is_the_alias_or_the_file_stem() -> None:
    assert LlamaServer("/m/SmolLM2.Q4.gguf").model_name == "SmolLM2.Q4"
    assert LlamaServer("/m/SmolLM2.Q4.gguf", alias="smol").model_name == "smol"


def test_serve_process_rejects_bad_arguments() -> None:
    command = [sys.executable, "-m", "hermes_agents.local.serve_process"]
    done = subprocess.run(
        [*command, "--model", "x.gguf", "--parallel", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "field 'slots'" in done.stderr
