"""The ``[apps.NAME]`` tables of the configuration: an app class's tier and default SLO.

::

    [apps.support-chat]
    tier = "critical"      # critical, standard (default) or sheddable
    slo_s = 20             # every run's deadline: 20 s after it starts (unless given one)

    [apps.nightly-report]
    tier = "sheddable"

The meaning of tiers and deadlines is in ``hermes_agents.scheduling.tiers`` and
docs/scheduling.md. Errors name the table and the key, e.g.
``apps.support-chat, field 'tier': unknown tier 'urgent'; use one of critical, standard,
sheddable``.

>>> apps = parse_apps({"qa": {"tier": "critical", "slo_s": 20}})
>>> apps["qa"].tier.value, apps["qa"].slo_s
('critical', 20.0)
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from hermes_agents.bounds import checked_name
from hermes_agents.config_fields import got, reject_unknown, table_name
from hermes_agents.errors import ValidationError
from hermes_agents.scheduling.tiers import ClassLevel, checked_deadline_s, checked_tier

APP_KEYS = frozenset({"tier", "slo_s"})
"""The keys of an ``[apps.NAME]`` table."""


def parse_apps(data: object) -> Mapping[str, ClassLevel]:
    """The ``[apps]`` tables as app class -> ``ClassLevel`` (read-only; empty when absent)."""
    if data is None:
        return MappingProxyType({})
    if not isinstance(data, Mapping):
        raise ValidationError(f"must hold one [apps.NAME] table per app, got {got(data)}", "apps")
    return MappingProxyType({str(name): _app(str(name), body) for name, body in data.items()})


def _app(name: str, body: Any) -> ClassLevel:
    where = table_name("apps", name)
    if not isinstance(body, Mapping):
        raise ValidationError(
            f"must be a table [{where}] with a tier or slo_s, got {got(body)}", where
        )
    try:
        checked_name(name, "app")
        reject_unknown(body, APP_KEYS, where)
        tier = checked_tier(body.get("tier", "standard"))
        slo = body.get("slo_s")
        return ClassLevel(tier, None if slo is None else checked_deadline_s(slo, "slo_s"))
    except ValidationError as error:
        if error.location and error.location[0] == where:
            raise
        raise error.within(where) from None
