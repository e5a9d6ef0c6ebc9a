"""Backends, their limits, and the scheduling policy, read from a TOML file.

``[scheduler]`` holds ``policy``; each ``[backends.NAME]`` table holds ``kind`` (llm, tool or
embedding), its limits (``max_concurrency``, ``token_budget``), ``base_url``, ``cold_start_s``,
``idle_sleep_s``, for LLM backends ``hermes_agents.cost.LLMCost`` fields, and optionally a
``[backends.NAME.prewarm]`` table; ``[prewarm]`` holds prewarming's shared settings (both are
parsed by ``hermes_agents.config_prewarm``). An empty file is valid: no backends, no limits.
docs/configuration.md is the full reference. ``find_config()`` loads the file that
``HERMES_CONFIG`` names (see ``hermes_agents.settings``). Errors are ``ValidationError``s that
start with the file's path and name the table and key, e.g.
``hermes.toml, backends.llama, field 'max_concurrency': must be an integer >= 1, got int 0``.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from hermes_agents import settings
from hermes_agents.config_apps import parse_apps
from hermes_agents.config_capacity import AutoCapacity, adapter_name, resolve_auto
from hermes_agents.config_enforce import ENGINE_WINDOW, resolve_enforce
from hermes_agents.config_fields import field_name, got, reject_unknown, table_name
from hermes_agents.cost import LLM_COST_FIELDS, CostModel, LLMCost
from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph.model import StageKind
from hermes_agents.scheduling.state import DEFAULT_MAX_HOLD_S, DEFAULT_MAX_WAIT_S
from hermes_agents.scheduling.tiers import (
    DEFAULT_RESERVE_WINDOW_S,
    DEFAULT_SHEDDABLE_SHARE,
    ClassLevel,
    checked_share,
)

if TYPE_CHECKING:
    from hermes_agents.config_prewarm import PrewarmConfig

__all__ = [
    "BACKEND_KEYS",
    "DEFAULT_POLICY",
    "BackendConfig",
    "Config",
    "find_config",
    "load_config",
    "parse_config",
]

DEFAULT_POLICY = "gittins"
"""The policy used when ``[scheduler]`` names none."""

BACKEND_KEYS: frozenset[str] = frozenset(
    {
        "kind",
        "max_concurrency",
        "token_budget",
        "max_wait_s",
        "max_hold_s",
        "sheddable_share",
        "reserve_window_s",
        "base_url",
        "cold_start_s",
        "idle_sleep_s",
        "prewarm",
        "adapter",
        "auto",
        "enforce",
        "priority_polarity",
    }
)
"""Keys of a ``[backends.NAME]`` table besides the cost fields (``cost.LLM_COST_FIELDS``)."""

_TOP_LEVEL_KEYS = frozenset({"scheduler", "backends", "prewarm", "apps"})
_SCHEDULER_KEYS = frozenset({"policy"})
_KINDS = ", ".join(repr(kind.value) for kind in StageKind)
_URL = re.compile(r"https?://[^\s/?#@]+(?:[/?#]\S*)?")


def _kind(value: object) -> StageKind:
    if isinstance(value, str) and value in {kind.value for kind in StageKind}:
        return StageKind(value)
    problem = "is required" if value is None else f"unknown kind {value!r}"
    raise ValidationError(f"{problem}; set kind = one of {_KINDS}", field_name("kind"))


def _positive_int(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(f"must be an integer >= 1, got {got(value)}", field_name(key))
    return value


def _cap(value: object) -> int:
    if isinstance(value, str):
        guess = " (did you mean 'auto'?)" if value.strip().lower() == "auto" else ""
        problem = f'must be an integer >= 1 or "auto"{guess}, got {got(value)}'
        raise ValidationError(problem, field_name("max_concurrency"))
    return _positive_int(value, "max_concurrency")


def _seconds(value: object, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"must be a number of seconds, got {got(value)}", field_name(key))
    if not (math.isfinite(value) and value >= 0):
        raise ValidationError(f"must be finite and >= 0, got {value!r}", field_name(key))
    return float(value)


def _positive_seconds(value: object, key: str) -> float:
    seconds = _seconds(value, key)
    if seconds <= 0:
        raise ValidationError(f"must be > 0 seconds, got {got(value)}", field_name(key))
    return seconds


def _url(value: object, key: str) -> str:
    if not isinstance(value, str) or not _URL.fullmatch(value):
        example = "'http://127.0.0.1:8080'"
        problem = f"must be an http:// or https:// URL such as {example}, got {value!r}"
        raise ValidationError(problem, field_name(key))
    return value


@dataclass(frozen=True)
class BackendConfig:
    """One backend and its limits; constructing one validates and normalises every field."""

    name: str
    """The name stages refer to (the key of its ``[backends.NAME]`` table)."""
    kind: StageKind
    """Which stage kind it serves: llm, tool or embedding."""
    max_concurrency: int | str | None = None
    """Calls it runs at once (>= 1), or ``"auto"`` (found at run time, ``auto``); None: ``"auto"``
    where its adapter can measure it (``config_capacity``), else 1."""
    token_budget: int | None = None
    """Most prompt + output tokens admitted at once (>= 1); None = no token limit."""
    base_url: str | None = None
    """The server's http(s) URL; None = the app reaches it on its own."""
    cold_start_s: float = 0.0
    """Seconds to wake it when asleep (>= 0)."""
    idle_sleep_s: float | None = None
    """Idle seconds after which it sleeps (>= 0); None = never."""
    cost: LLMCost | None = None
    """Cost profile (LLM backends only); None = ``CostModel``'s default profile."""
    max_wait_s: float = DEFAULT_MAX_WAIT_S
    """The wait bound (> 0): a call that waited this long is admitted next, oldest first."""
    max_hold_s: float = DEFAULT_MAX_HOLD_S
    """The hold bound (> 0): a slot held this long is taken back (the call goes on)."""
    sheddable_share: float = DEFAULT_SHEDDABLE_SHARE
    """The headroom higher tiers keep (``+tiers`` policies): the most of its slots sheddable
    calls hold while critical or standard work is about, a share in (0, 1]; 1: none."""
    reserve_window_s: float = DEFAULT_RESERVE_WINDOW_S
    """How long after its last critical or standard call it keeps that headroom (> 0)."""
    adapter: str | None = None
    """The adapter that reads the backend (``llamacpp``, ``vllm``, ``sglang``, ...); None: its
    prewarm table's, if any."""
    auto: AutoCapacity | None = None
    """The ``auto`` window's bounds; set exactly when ``max_concurrency`` is ``"auto"``."""
    enforce: str = "client"
    """Where its order is enforced: ``client``, ``engine`` or ``both`` (``config_enforce``)."""
    priority_polarity: str | None = None
    """The engine's priority order (``lower-first``, ``higher-first``) when the rank is sent
    (``enforce`` engine or both; default: the adapter's); None when it is not sent."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValidationError(
                f"must be a non-empty string, got {self.name!r}", field_name("name")
            )
        try:
            self._normalise()
        except ValidationError as error:
            raise error.within(table_name("backends", self.name)) from None

    @property
    def start_concurrency(self) -> int:
        """The capacity it starts with: its cap, or where its ``auto`` window starts."""
        if self.auto is not None:
            return self.auto.bounds.clamp(self.auto.start or self.auto.min)
        assert isinstance(self.max_concurrency, int)  # normalised: an int unless "auto"
        return self.max_concurrency

    def _normalise(self) -> None:
        kind = _kind(self.kind)
        budget, url, idle = self.token_budget, self.base_url, self.idle_sleep_s
        adapter = adapter_name(self.adapter, None)
        enforce, polarity = resolve_enforce(self.enforce, self.priority_polarity, kind, adapter)
        cap = self.max_concurrency
        if enforce == "engine" and cap is None and self.auto is None:
            cap = ENGINE_WINDOW  # the engine orders every call: no client window
        cap, auto = resolve_auto(cap, self.auto, adapter, url)
        values: dict[str, object] = {
            "kind": kind,
            "max_concurrency": cap if auto is not None else _cap(cap),
            "adapter": adapter,
            "auto": auto,
            "enforce": enforce,
            "priority_polarity": polarity,
            "token_budget": None if budget is None else _positive_int(budget, "token_budget"),
            "max_wait_s": _positive_seconds(self.max_wait_s, "max_wait_s"),
            "max_hold_s": _positive_seconds(self.max_hold_s, "max_hold_s"),
            "sheddable_share": checked_share(self.sheddable_share),
            "reserve_window_s": _positive_seconds(self.reserve_window_s, "reserve_window_s"),
            "base_url": None if url is None else _url(url, "base_url"),
            "cold_start_s": _seconds(self.cold_start_s, "cold_start_s"),
            "idle_sleep_s": None if idle is None else _seconds(idle, "idle_sleep_s"),
        }
        if budget is not None and kind == StageKind.TOOL:
            problem = "tool calls carry no tokens, so a token budget never applies; remove it"
            raise ValidationError(problem, field_name("token_budget"))
        if self.cost is not None and kind != StageKind.LLM:
            raise ValidationError("a cost profile applies to llm backends only", field_name("cost"))
        for name, value in values.items():
            object.__setattr__(self, name, value)


@dataclass(frozen=True)
class Config:
    """Backends by name, the scheduling policy and prewarming; ``backends`` is read-only."""

    backends: Mapping[str, BackendConfig] = field(default_factory=lambda: MappingProxyType({}))
    """Backend name -> its config; empty = no limits configured."""
    policy: str = DEFAULT_POLICY
    """Scheduling policy name; the scheduler checks that it knows the name."""
    source: Path | None = None
    """The file it was read from, if any."""
    prewarm: PrewarmConfig | None = None
    apps: Mapping[str, ClassLevel] = field(default_factory=lambda: MappingProxyType({}))
    """App class -> its tier and default SLO (``[apps.NAME]``, ``config_apps``)."""
    """Prewarming (``hermes_agents.config_prewarm``); None when no backend has a
    ``[backends.NAME.prewarm]`` table."""

    def __post_init__(self) -> None:
        backends = MappingProxyType(dict(self.backends))
        for name, backend in backends.items():
            if not isinstance(backend, BackendConfig) or backend.name != name:
                where = table_name("backends", str(name))
                raise ValidationError(f"expected the BackendConfig named {name!r}", where)
        object.__setattr__(self, "backends", backends)
        for name in self.prewarm.backends if self.prewarm is not None else ():
            if name not in backends:
                problem = f"backend {name!r} is prewarmed but not configured; add [backends.{name}]"
                raise ValidationError(problem, table_name("backends", name, "prewarm"))
        if not isinstance(self.policy, str) or not self.policy.strip():
            problem = f"must name a policy, such as {DEFAULT_POLICY!r}; got {got(self.policy)}"
            raise ValidationError(problem, "scheduler", field_name("policy"))

    def __hash__(self) -> int:
        return hash((tuple(sorted(self.backends.items())), self.policy, self.source))

    def backend(self, name: str) -> BackendConfig:
        """The named backend's config; raises a ``ValidationError`` when it is not configured."""
        found = self.backends.get(name)
        if found is not None:
            return found
        known = ", ".join(map(repr, sorted(self.backends))) or "none"
        raise ValidationError(
            f"backend {name!r} is not configured (configured backends: {known}); add a "
            f"[{table_name('backends', name)}] table with kind = one of {_KINDS} to the "
            "config file",
            "" if self.source is None else str(self.source),
        )

    def cost_model(self) -> CostModel:
        """Cost model with each LLM backend's own profile (others use the default profile)."""
        profiles = {n: b.cost for n, b in self.backends.items() if b.cost is not None}
        return CostModel(llm=profiles)


def _backend(name: str, data: object) -> BackendConfig:
    where = table_name("backends", name)
    if not isinstance(data, Mapping):
        raise ValidationError(f"must be a table [{where}] with a kind, got {got(data)}", where)
    reject_unknown(data, BACKEND_KEYS | LLM_COST_FIELDS, where)
    cost_keys = sorted(key for key in data if key in LLM_COST_FIELDS)
    if cost_keys and data.get("kind") != StageKind.LLM:
        raise ValidationError(
            f"cost key(s) {', '.join(cost_keys)} apply to llm backends only; remove them "
            'or set kind = "llm"',
            where,
            field_name(cost_keys[0]),
        )
    cost = LLMCost.from_mapping({k: data[k] for k in cost_keys}, where) if cost_keys else None
    kind: Any = data.get("kind")  # BackendConfig checks it, and says so when it is missing
    plain = {key: data[key] for key in BACKEND_KEYS - {"kind", "prewarm"} if key in data}
    try:
        plain["adapter"] = adapter_name(data.get("adapter"), data.get("prewarm"))
    except ValidationError as error:
        raise error.within(where) from None
    return BackendConfig(name=name, kind=kind, **plain, cost=cost)


def _parse(data: Mapping[str, Any], source: Path | None) -> Config:
    reject_unknown(data, _TOP_LEVEL_KEYS)
    scheduler = data.get("scheduler", {})
    if not isinstance(scheduler, Mapping):
        raise ValidationError(f"must be a table [scheduler], got {got(scheduler)}", "scheduler")
    reject_unknown(scheduler, _SCHEDULER_KEYS, "scheduler")
    backends = data.get("backends", {})
    if not isinstance(backends, Mapping):
        raise ValidationError(
            f"must hold one [backends.NAME] table per backend, got {got(backends)}", "backends"
        )
    parsed = {str(name): _backend(str(name), body) for name, body in backends.items()}
    from hermes_agents.config_prewarm import parse_prewarm  # it builds on this module

    tables = {
        str(name): (parsed[str(name)], body["prewarm"])
        for name, body in backends.items()
        if "prewarm" in body
    }
    prewarm = parse_prewarm(data.get("prewarm"), tables)
    apps = parse_apps(data.get("apps"))
    return Config(parsed, scheduler.get("policy", DEFAULT_POLICY), source, prewarm, apps)


def parse_config(data: Mapping[str, Any], source: Path | None = None) -> Config:
    """Validate a parsed TOML document; errors start with ``source`` when it is given."""
    try:
        return _parse(data, source)
    except ValidationError as error:
        raise error.within("" if source is None else str(source)) from None


def _read(path: Path, fix: str) -> Config:
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except OSError as error:
        missing = isinstance(error, FileNotFoundError)
        what = "not found" if missing else f"unreadable ({error.strerror})"
        raise ValidationError(f"config file {what}; {fix}", str(path)) from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ValidationError(f"invalid TOML: {error}", str(path)) from None
    return parse_config(data, path)


def load_config(path: str | Path) -> Config:
    """Read and validate a TOML config file; every error message starts with ``path``."""
    return _read(Path(path), "check the path")


def client_base_url(config: Config | None, backend: str) -> str | None:
    """The OpenAI-compatible base URL of ``backend`` from its ``base_url``, for a drop-in
    client made without one: a URL with no path gets ``/v1`` (llama.cpp, vLLM and SGLang serve
    their OpenAI API there); None when the backend is not configured or has no URL."""
    found = config.backends.get(backend) if config is not None else None
    if found is None or found.base_url is None:
        return None
    url = found.base_url.rstrip("/")
    return url if urlsplit(url).path else f"{url}/v1"


def find_config() -> Config | None:
    """The config file named by ``HERMES_CONFIG``, loaded; None when the variable is unset."""
    path = settings.config_path()
    if path is None:
        return None
    return _read(path, "point HERMES_CONFIG at an existing file, or unset it")
