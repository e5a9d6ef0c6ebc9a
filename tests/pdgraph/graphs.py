"""Builders for small test graphs."""

from __future__ import annotations

from typing import Any


def tool_stage(seconds: float, nxt: dict[str, float], **extra: Any) -> dict[str, Any]:
    """A tool stage of constant duration on backend ``t``."""
    return {"kind": "tool", "backend": "t", "seconds": {"const": seconds}, "next": nxt, **extra}


def app(entry: str, stages: dict[str, Any], name: str = "app") -> dict[str, Any]:
    """An app mapping in the workload format."""
    return {"name": name, "entry": entry, "stages": stages}
