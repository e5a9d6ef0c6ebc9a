"""The deployment examples of docs/scale-out.md (``deploy/``) parse, and say what Hermes needs:
a Redis image on 6379 that never evicts keys, apps whose ``HERMES_SCHEDULER`` names that Redis
(accepted by ``settings``), whose ``HERMES_CONFIG`` is where the config is mounted, and a config
that loads (the same in the Kubernetes ConfigMap as in ``deploy/hermes.toml``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from hermes_agents import settings
from hermes_agents.config import load_config

yaml = pytest.importorskip("yaml")

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
REDIS_PORT = 6379


def scheduler_host(address: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The host of a ``HERMES_SCHEDULER`` value that ``settings`` accepts."""
    monkeypatch.setenv("HERMES_SCHEDULER", address)
    assert settings.scheduler_address() == address
    parts = urlsplit(address)
    assert parts.scheme == "redis"
    assert parts.port == REDIS_PORT
    return str(parts.hostname)


def no_eviction(args: list[str]) -> None:
    assert args[args.index("--maxmemory-policy") + 1] == "noeviction"
    assert "--requirepass" in args


def test_the_config_loads() -> None:
    config = load_config(DEPLOY / "hermes.toml")
    assert set(config.backends) == {"vllm", "search"}


def test_the_compose_file(monkeypatch: pytest.MonkeyPatch) -> None:
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    redis, app = services["redis"], services["app"]
    assert redis["image"].startswith("redis:")
    assert any(str(port).endswith(f":{REDIS_PORT}") for port in redis["ports"])
    no_eviction(redis["command"])
    env = app["environment"]
    assert scheduler_host(env["HERMES_SCHEDULER"], monkeypatch) == "redis"  # the service
    assert "HERMES_REDIS_PASSWORD" in env
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in app["volumes"]}
    assert (DEPLOY / mounts[env["HERMES_CONFIG"]]).resolve() == DEPLOY / "hermes.toml"
    assert app["depends_on"]["redis"]["condition"] == "service_healthy"


def documents() -> dict[str, dict[str, Any]]:
    """The Kubernetes manifest's objects by kind."""
    docs = list(yaml.safe_load_all((DEPLOY / "kubernetes.yaml").read_text()))
    return {doc["kind"]: doc for doc in docs}


def test_the_kubernetes_manifest(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    objects = documents()
    assert set(objects) == {"ConfigMap", "Service", "StatefulSet", "Deployment"}
    service, redis_set = objects["Service"], objects["StatefulSet"]
    assert service["spec"]["selector"] == redis_set["spec"]["template"]["metadata"]["labels"]
    assert [p["port"] for p in service["spec"]["ports"]] == [REDIS_PORT]
    (redis,) = redis_set["spec"]["template"]["spec"]["containers"]
    assert redis["image"].startswith("redis:")
    assert [p["containerPort"] for p in redis["ports"]] == [REDIS_PORT]
    no_eviction(redis["args"])
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    (app,) = pod["containers"]
    env = {item["name"]: item for item in app["env"]}
    address = env["HERMES_SCHEDULER"]["value"]
    assert scheduler_host(address, monkeypatch) == service["metadata"]["name"]
    assert env["HERMES_REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "hermes-redis"
    config_path = Path(env["HERMES_CONFIG"]["value"])
    (mount,) = app["volumeMounts"]
    assert Path(mount["mountPath"]) == config_path.parent
    (volume,) = pod["volumes"]
    config_map = objects["ConfigMap"]
    assert volume["configMap"]["name"] == config_map["metadata"]["name"]
    mounted = tmp_path / config_path.name
    mounted.write_text(config_map["data"][config_path.name])
    assert load_config(mounted).backends == load_config(DEPLOY / "hermes.toml").backends
