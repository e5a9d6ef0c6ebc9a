"""The OpenAI drop-ins keep openai's constructor, ``copy`` and ``with_options`` signatures and
type hints, plus the three ``hermes_*`` keyword-only parameters."""

from __future__ import annotations

import inspect
from typing import get_type_hints

import openai
import pytest

from hermes_agents.openai import AsyncOpenAI, OpenAI
from tests.doubles import RecordingModels, capacity_one_scheduler

_HERMES = ["hermes_backend", "hermes_scheduler", "hermes_priority"]
_PAIRS = [(OpenAI, openai.OpenAI), (AsyncOpenAI, openai.AsyncOpenAI)]


@pytest.mark.parametrize(("ours", "theirs"), _PAIRS)
@pytest.mark.parametrize("method", ["__init__", "copy", "with_options"])
def test_signatures_are_openais_plus_hermes(ours: type, theirs: type, method: str) -> None:
    mine = inspect.signature(getattr(ours, method))
    plain = inspect.signature(getattr(theirs, method))
    assert list(mine.parameters)[: len(plain.parameters)] == list(plain.parameters)
    assert list(mine.parameters)[len(plain.parameters) :] == _HERMES
    for name, param in plain.parameters.items():
        assert mine.parameters[name] == param
    assert all(mine.parameters[n].kind is inspect.Parameter.KEYWORD_ONLY for n in _HERMES)
    assert mine.return_annotation == plain.return_annotation


@pytest.mark.parametrize(("ours", "theirs"), _PAIRS)
@pytest.mark.parametrize("method", ["__init__", "copy"])
def test_type_hints_are_openais_plus_hermes(ours: type, theirs: type, method: str) -> None:
    mine = get_type_hints(getattr(ours, method))
    plain = get_type_hints(getattr(theirs, method))
    assert {k: v for k, v in mine.items() if k not in _HERMES} == plain
    assert mine["hermes_backend"] in (str, str | openai.NotGiven)
    assert "Scheduler" in str(mine["hermes_scheduler"])


def test_the_mirrored_methods_still_work() -> None:
    scheduler = capacity_one_scheduler(RecordingModels())
    client = OpenAI(base_url="http://127.0.0.1:9/v1", api_key="k", hermes_backend="small")
    copied = client.with_options(timeout=3.0, hermes_scheduler=scheduler)
    assert (copied.hermes_backend, copied.hermes_scheduler, copied.timeout) == (
        "small",
        scheduler,
        3.0,
    )
    assert client.copy(hermes_backend="other").hermes_backend == "other"
    assert isinstance(copied, OpenAI)
    assert vars(OpenAI)["with_options"] is vars(OpenAI)["copy"]
