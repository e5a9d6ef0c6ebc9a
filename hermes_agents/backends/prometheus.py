"""Read (and, for test doubles, write) the Prometheus text format that servers expose.

Only what adapters need: samples ``name{label="value",...} number [timestamp]``; comments
(``# HELP``, ``# TYPE``) are skipped. vLLM, SGLang and llama.cpp all serve this format.

>>> samples = parse_metrics('vllm:num_requests_waiting{model_name="m"} 3.0\\n')
>>> total(samples, "vllm:num_requests_waiting")
3.0
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["Gauge", "Sample", "count", "highest", "parse_metrics", "render_gauges", "total"]

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(?:\s+\S+)?\s*$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Sample:
    """One sample line."""

    name: str
    labels: Mapping[str, str]
    value: float


def parse_metrics(text: str) -> dict[str, list[Sample]]:
    """Samples by metric name; lines that are not samples are skipped."""
    found: dict[str, list[Sample]] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line.strip())
        if match is None or line.lstrip().startswith("#"):
            continue
        name, labels, value = match.groups()
        try:
            number = float(value)
        except ValueError:
            continue
        pairs = {key: raw.replace('\\"', '"') for key, raw in _LABEL.findall(labels or "")}
        found.setdefault(name, []).append(Sample(name, MappingProxyType(pairs), number))
    return found


def _finite(samples: Mapping[str, list[Sample]], name: str) -> list[float]:
    return [s.value for s in samples.get(name, ()) if math.isfinite(s.value)]


def total(samples: Mapping[str, list[Sample]], *names: str) -> float | None:
    """Sum over the first of ``names`` present (e.g. across engines); None when none is, or
    when the sum overflows (huge samples: no count to round)."""
    for name in names:
        values = _finite(samples, name)
        if values:
            summed = sum(values)
            return summed if math.isfinite(summed) else None
    return None


def count(samples: Mapping[str, list[Sample]], *names: str) -> int | None:
    """``total`` as a whole number (a queue's length, a counter), or None when absent."""
    value = total(samples, *names)
    return None if value is None else round(value)


def highest(samples: Mapping[str, list[Sample]], *names: str) -> float | None:
    """Largest value of the first of ``names`` present (the fullest engine's KV cache)."""
    for name in names:
        values = _finite(samples, name)
        if values:
            return max(values)
    return None


@dataclass(frozen=True)
class Gauge:
    """A gauge (or, with ``kind="counter"``, a counter's sample) to render: name, help text,
    value, labels."""

    name: str
    help: str
    value: float
    labels: Mapping[str, str] = field(default_factory=dict)
    kind: str = "gauge"
    """The ``# TYPE`` written: ``gauge`` or ``counter``."""


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return "{" + inner + "}"


def render_gauges(gauges: Iterable[Gauge]) -> str:
    """The text format ``prometheus_client`` writes for these gauges (HELP, TYPE, samples)."""
    lines: list[str] = []
    seen: set[str] = set()
    for gauge in gauges:
        if gauge.name not in seen:
            seen.add(gauge.name)
            lines += [f"# HELP {gauge.name} {gauge.help}", f"# TYPE {gauge.name} {gauge.kind}"]
        lines.append(f"{gauge.name}{_labels(gauge.labels)} {float(gauge.value)!r}")
    return "\n".join(lines) + "\n"
