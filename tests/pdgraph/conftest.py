"""Small graphs shared by the PDGraph tests."""

from __future__ import annotations

from typing import Any

import pytest

from tests.pdgraph.graphs import tool_stage


@pytest.fixture
def react_app() -> dict[str, Any]:
    """A ReAct-like app: LLM thought, then a search tool or END; search returns to thought."""
    return {
        "name": "react",
        "weight": 4,
        "entry": "thought",
        "stages": {
            "thought": {
                "kind": "llm",
                "backend": "llm",
                "prompt_tokens": {"normal": [1168, 175]},
                "output_tokens": {"normal": [39, 12]},
                "next": {"search": 0.54, "END": 0.46},
            },
            "search": tool_stage(2.2, {"thought": 1.0}),
        },
    }
