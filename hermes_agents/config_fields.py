"""Shared pieces of the TOML configuration's validation: how errors name tables, fields and
bad values, and the unknown-key check with "did you mean" (``config`` and ``config_prewarm``
both use them)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from hermes_agents.errors import ValidationError, did_you_mean

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def table_name(*keys: str) -> str:
    """A TOML table path such as ``backends.llama`` (keys quoted where TOML needs it)."""
    return ".".join(
        k if _BARE_KEY.fullmatch(k) else json.dumps(k, ensure_ascii=False) for k in keys
    )


def field_name(key: str) -> str:
    """How an error names a key: ``field 'key'``."""
    return f"field {key!r}"


def got(value: object) -> str:
    """How an error shows a bad value: its type and repr."""
    return f"{type(value).__name__} {value!r}"


def reject_unknown(data: Mapping[str, Any], allowed: frozenset[str], *where: str) -> None:
    """Raise naming the keys of ``data`` outside ``allowed``, with the allowed keys listed."""
    unknown = sorted(str(key) for key in data if key not in allowed)
    if unknown:
        guess = did_you_mean(unknown[0], allowed)
        raise ValidationError(
            f"unknown key(s) {', '.join(map(repr, unknown))}{guess}; "
            f"allowed keys: {', '.join(sorted(allowed))}",
            *where,
        )
