"""A workload file: many apps, the backends they use, and how apps arrive.

``{"name", "apps": {APP: {...}}, "backends": {NAME: {"kind", "max_concurrency", ...}},
"arrivals": {"process": "poisson", "rate_per_s", "count"}}``. Backends may also carry
``cold_start_s``, ``idle_sleep_s`` and, for LLM backends, the cost-profile fields of
``hermes_agents.cost.LLMCost`` (``prefill_s_per_token``, ``decode_s_per_token``, ...).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from hermes_agents.cost import LLM_COST_FIELDS, CostModel, LLMCost
from hermes_agents.engine_limits import EngineLimits
from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph.jsonio import app_from_dict, load_json_text, reject_unknown
from hermes_agents.pdgraph.model import PDGraph, StageKind
from hermes_agents.pdgraph.service_levels import (
    DEFAULT_LEVEL,
    SERVICE_KEYS,
    ServiceLevel,
    parse_service_level,
)
from hermes_agents.priority import Enforce, parse_enforce

WORKLOAD_KEYS = frozenset({"name", "apps", "backends", "arrivals"})
BACKEND_KEYS = frozenset(
    {"kind", "max_concurrency", "cold_start_s", "idle_sleep_s", "enforce", "engine"}
)
ARRIVAL_KEYS = frozenset({"process", "rate_per_s", "count"})
ARRIVAL_PROCESSES = ("poisson",)


@dataclass(frozen=True)
class BackendSpec:
    """A backend as a workload describes it.

    Attributes:
        name: the name stages refer to.
        kind: which stage kind it serves.
        max_concurrency: calls it runs at once (>= 1).
        cold_start_s: seconds to wake it when asleep.
        idle_sleep_s: idle seconds after which it sleeps; None = never.
        cost: LLM cost profile (LLM backends only); None = the default profile.
        enforce: where the order is enforced (LLM backends): ``client``, ``engine``, ``both``
            (``hermes_agents.priority.Enforce``).
        engine: the serving engine's own limits and scheduler (LLM backends,
            ``hermes_agents.engine_limits``); None = the unbounded engine model.
    """

    name: str
    kind: StageKind
    max_concurrency: int = 1
    cold_start_s: float = 0.0
    idle_sleep_s: float | None = None
    cost: LLMCost | None = None
    enforce: Enforce = "client"
    engine: EngineLimits | None = None


@dataclass(frozen=True)
class Arrivals:
    """How apps arrive: a Poisson process of ``rate_per_s`` for ``count`` apps."""

    process: str = "poisson"
    rate_per_s: float = 1.0
    count: int = 100


@dataclass(frozen=True)
class Workload:
    """Apps (one PDGraph each, with mix ``weight``), backends, arrivals, and the apps'
    service levels (``service``: tier and deadlines; classes not named have the default)."""

    name: str
    apps: Mapping[str, PDGraph]
    backends: Mapping[str, BackendSpec] = field(default_factory=dict)
    arrivals: Arrivals | None = None
    service: Mapping[str, ServiceLevel] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "apps", MappingProxyType(dict(self.apps)))
        object.__setattr__(self, "backends", MappingProxyType(dict(self.backends)))
        object.__setattr__(self, "service", MappingProxyType(dict(self.service)))

    def level(self, app: str) -> ServiceLevel:
        """The service level of class ``app`` (the default when the workload names none)."""
        return self.service.get(app, DEFAULT_LEVEL)

    def cost_model(self) -> CostModel:
        """Cost model with each LLM backend's own profile (others use the default)."""
        profiles = {n: b.cost for n, b in self.backends.items() if b.cost is not None}
        return CostModel(llm=profiles)

    def to_dict(self) -> dict[str, Any]:
        """The workload-format form."""
        apps = {}
        for name, graph in self.apps.items():
            body = graph.to_dict()
            del body["name"]
            apps[name] = body | self.level(name).to_dict()
        out: dict[str, Any] = {"name": self.name, "apps": apps}
        out["backends"] = {n: _backend_to_dict(b) for n, b in self.backends.items()}
        if self.arrivals is not None:
            out["arrivals"] = {
                "process": self.arrivals.process,
                "rate_per_s": self.arrivals.rate_per_s,
                "count": self.arrivals.count,
            }
        return out

    def to_json(self, *, indent: int | None = 2) -> str:
        """``to_dict()`` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, seed: int = 0) -> Workload:
        """Parse and validate a workload mapping."""
        return parse_workload(data, seed=seed)

    @classmethod
    def from_json(cls, text: str | bytes, *, seed: int = 0) -> Workload:
        """Parse and validate workload JSON text."""
        return parse_workload(load_json_text(text), seed=seed)

    @classmethod
    def load(cls, path: str | Path, *, seed: int = 0) -> Workload:
        """Read a workload file; errors start with the file's path."""
        path = Path(path)
        try:
            return cls.from_json(path.read_bytes(), seed=seed)
        except ValidationError as error:
            raise error.within(str(path)) from None


def parse_workload(data: Mapping[str, Any], *, seed: int) -> Workload:
    """Parse a workload mapping; every error names the app, stage (or backend) and field."""
    reject_unknown(data, WORKLOAD_KEYS)
    name = data.get("name", "workload")
    if not isinstance(name, str) or not name:
        raise ValidationError("must be a non-empty string", "field 'name'")
    apps_data = data.get("apps")
    if not isinstance(apps_data, Mapping) or not apps_data:
        raise ValidationError("needs a non-empty object of apps", "field 'apps'")
    backends_data = data.get("backends", {})
    if not isinstance(backends_data, Mapping):
        raise ValidationError("must map backend names to backends", "field 'backends'")
    backends = {str(k): _backend_from_dict(str(k), v) for k, v in backends_data.items()}
    apps, service = {}, {}
    for key, body in apps_data.items():
        graph_data = body
        if isinstance(body, Mapping) and SERVICE_KEYS & body.keys():
            service[str(key)] = parse_service_level(str(key), body)
            graph_data = {k: v for k, v in body.items() if k not in SERVICE_KEYS}
        apps[str(key)] = app_from_dict(str(key), graph_data, seed=seed)
    for graph in apps.values():
        _check_backends(graph, backends)
    arrivals = data.get("arrivals")
    parsed_arrivals = None if arrivals is None else _arrivals(arrivals)
    return Workload(name, apps, backends, parsed_arrivals, service)


def _check_backends(graph: PDGraph, backends: Mapping[str, BackendSpec]) -> None:
    for stage in graph.stages.values():
        where = (f"app {graph.name!r}", f"stage {stage.name!r}", "field 'backend'")
        spec = backends.get(stage.backend)
        if spec is None:
            raise ValidationError(
                f'backend {stage.backend!r} is not declared; add it under "backends" '
                f"or use one of {sorted(backends)}",
                *where,
            )
        if spec.kind != stage.kind:
            raise ValidationError(
                f"a {stage.kind} stage cannot run on {spec.kind} backend {spec.name!r}", *where
            )


def _backend_from_dict(name: str, data: object) -> BackendSpec:
    where = f"backend {name!r}"
    if not isinstance(data, Mapping):
        raise ValidationError("a backend must be a JSON object", where)
    reject_unknown(data, BACKEND_KEYS | LLM_COST_FIELDS, where)
    kind = data.get("kind")
    if kind not in tuple(StageKind):
        raise ValidationError(
            f"unknown kind {kind!r}; use one of {[str(k) for k in StageKind]}", where, "'kind'"
        )
    cost_fields = {k: v for k, v in data.items() if k in LLM_COST_FIELDS}
    if cost_fields and kind != StageKind.LLM:
        raise ValidationError(
            f"cost fields {sorted(cost_fields)} apply to llm backends only", where
        )
    idle = data.get("idle_sleep_s")
    llm_only = sorted(key for key in ("enforce", "engine") if key in data)
    if llm_only and kind != StageKind.LLM:
        raise ValidationError(f"fields {llm_only} apply to llm backends only", where)
    engine = data.get("engine")
    if engine is not None and not isinstance(engine, Mapping):
        raise ValidationError("must be a JSON object", where, "field 'engine'")
    return BackendSpec(
        name=name,
        kind=StageKind(kind),
        max_concurrency=_count(data.get("max_concurrency", 1), where, "max_concurrency"),
        cold_start_s=_seconds(data.get("cold_start_s", 0.0), where, "cold_start_s"),
        idle_sleep_s=None if idle is None else _seconds(idle, where, "idle_sleep_s"),
        cost=LLMCost.from_mapping(cost_fields, where) if cost_fields else None,
        enforce=parse_enforce(data.get("enforce", "client"), where, "field 'enforce'"),
        engine=None if engine is None else EngineLimits.from_mapping(engine, where),
    )


def _arrivals(data: object) -> Arrivals:
    where = "field 'arrivals'"
    if not isinstance(data, Mapping):
        raise ValidationError('expected {"process", "rate_per_s", "count"}', where)
    reject_unknown(data, ARRIVAL_KEYS, where)
    process = data.get("process", "poisson")
    if process not in ARRIVAL_PROCESSES:
        raise ValidationError(
            f"unknown process {process!r}; use one of {ARRIVAL_PROCESSES}", where, "'process'"
        )
    rate = _seconds(data.get("rate_per_s", 1.0), where, "rate_per_s")
    if rate <= 0:
        raise ValidationError("must be > 0", where, "'rate_per_s'")
    return Arrivals(str(process), rate, _count(data.get("count", 100), where, "count"))


def _count(value: object, *where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(
            f"must be an integer >= 1, got {value!r}", *where[:-1], f"field {where[-1]!r}"
        )
    return value


def _seconds(value: object, *where: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (math.isfinite(value) and value >= 0)
    ):
        raise ValidationError(
            f"must be a finite number >= 0, got {value!r}", *where[:-1], f"field {where[-1]!r}"
        )
    return float(value)


def _backend_to_dict(spec: BackendSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": str(spec.kind), "max_concurrency": spec.max_concurrency}
    if spec.cold_start_s:
        out["cold_start_s"] = spec.cold_start_s
    if spec.idle_sleep_s is not None:
        out["idle_sleep_s"] = spec.idle_sleep_s
    if spec.cost is not None:
        out.update(spec.cost.to_mapping())
    if spec.enforce != "client":
        out["enforce"] = spec.enforce
    if spec.engine is not None:
        out["engine"] = spec.engine.to_mapping()
    return out
