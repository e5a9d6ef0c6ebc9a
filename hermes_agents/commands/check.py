"""``hermes check [--config FILE] [--json]``: is this setup right, before the apps start?

Validates what an app process would read and probes what it would use, one line per check:

- ``HERMES_SCHEDULER``: a well-formed address, or unset;
- ``config``: the config file (``--config``, else ``HERMES_CONFIG``) parses, and names a policy
  the scheduler knows;
- ``scheduler``: which scheduler a process started now would use (the daemon at
  ``HERMES_SCHEDULER``, else a daemon on the default socket, else in-process), as
  ``hermes_agents.scheduling.default`` decides;
- ``token`` (a ``tcp://`` daemon only): a token is there, in a file only you can read;
- ``daemon`` (when one is addressed): it answers, with its version, policy and clients;
- ``profile store``: the file under ``settings.data_dir()`` opens (or can be made);
- ``backend NAME``: each configured backend with a ``base_url`` answers HTTP
  (``/health``, ``/models``, ``/v1/models``).

Each line is ``ok``, ``warning`` (works, but probably not as meant) or ``error`` (an app would
stop at startup, or run every call unscheduled), in plain words with the fix. Exit status 0 when
nothing is an error, 1 otherwise. Only the daemon's socket and the URLs in the config are
contacted; nothing is written (a missing profile store is not created).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from hermes_agents import settings
from hermes_agents.config import BackendConfig, Config, find_config, load_config
from hermes_agents.errors import HermesError, ValidationError
from hermes_agents.private_files import read_private
from hermes_agents.scheduling.daemon.connection import (
    DaemonUnavailableError,
    listening,
    query_status,
)
from hermes_agents.scheduling.policies import policy_named
from hermes_agents.store import FILE_NAME, ProfileStore
from hermes_agents.version import VERSION

HELP = "check the config and environment, and probe the daemon and each configured backend"
EXAMPLES = """\
examples:
  hermes check                        # what an app started from this shell would use
  hermes check --config hermes.toml   # a config file other than $HERMES_CONFIG
  hermes check --json                 # the same checks as JSON (exit status 1 on an error)
"""
DEFAULT_TIMEOUT_S = 2.0

Level = Literal["ok", "warning", "error"]


@dataclass(frozen=True)
class Finding:
    """The outcome of one check."""

    check: str
    """What was checked: ``HERMES_SCHEDULER``, ``config``, ``backend llm``, ..."""
    level: Level
    """``ok``; ``warning``: works, but probably not as meant; ``error``: an app would stop at
    startup, or run its calls unscheduled."""
    message: str
    """What was found, in plain words; for a warning or an error, what to change."""

    def line(self) -> str:
        """One line of text, control characters escaped (names come from files and sockets)."""
        text = f"{self.level:<7} {self.check}: {self.message}"
        if text.isprintable():
            return text
        return text.encode("unicode_escape", "backslashreplace").decode("ascii")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``hermes check``."""
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="config file to check (default: $HERMES_CONFIG)"
    )
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    parser.add_argument(
        "--timeout-s",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="S",
        help="seconds to wait for the daemon and for each backend request",
    )


def main(args: argparse.Namespace) -> int:
    """Run every check and print them; 1 when one is an error, else 0."""
    if not args.timeout_s > 0:
        raise ValidationError(f"must be > 0 seconds, got {args.timeout_s}", "--timeout-s")
    findings = run_checks(args.config, timeout_s=args.timeout_s)
    errors = sum(finding.level == "error" for finding in findings)
    warnings = sum(finding.level == "warning" for finding in findings)
    if args.json:
        report = {
            "ok": errors == 0,
            "errors": errors,
            "warnings": warnings,
            "checks": [asdict(finding) for finding in findings],
        }
        print(json.dumps(report, indent=2))
    else:
        for finding in findings:
            print(finding.line())
        print(f"hermes check: {_count(errors, 'error')}, {_count(warnings, 'warning')}")
    return 1 if errors else 0


def run_checks(
    config_file: Path | None = None,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    transport: httpx.BaseTransport | None = None,
) -> list[Finding]:
    """Every check, in order (see the module docstring); never raises for what it finds.

    ``config_file`` replaces ``HERMES_CONFIG``; ``transport`` is handed to the HTTP client
    that probes the backends (default: the network)."""
    address, variable = check_scheduler_variable()
    config, config_finding = check_config(config_file)
    findings = [variable, config_finding]
    if variable.level != "error":  # a broken HERMES_SCHEDULER names no scheduler
        findings.extend(check_scheduler(address, timeout_s))
    findings.append(check_store())
    if config is not None:
        findings.extend(check_backends(config, timeout_s=timeout_s, transport=transport))
    return findings


def check_scheduler_variable() -> tuple[str | None, Finding]:
    """``HERMES_SCHEDULER``'s address (None when unset or malformed) and its finding."""
    try:
        address = settings.scheduler_address()
    except ValidationError as error:
        return None, Finding("HERMES_SCHEDULER", "error", str(error))
    if address is None:
        unset = "unset: apps use a daemon on the default socket if one listens there, else "
        return None, Finding("HERMES_SCHEDULER", "ok", unset + "schedule in their own process")
    return address, Finding("HERMES_SCHEDULER", "ok", settings.redacted_address(address))


def check_config(config_file: Path | None) -> tuple[Config | None, Finding]:
    """The config (``config_file``, else ``HERMES_CONFIG``; None when neither) and its finding."""
    try:
        config = load_config(config_file) if config_file is not None else find_config()
    except ValidationError as error:
        return None, Finding("config", "error", str(error))
    if config is None:
        unset = "HERMES_CONFIG is unset: no config file, so in-process schedulers limit nothing"
        return None, Finding("config", "ok", unset)
    try:
        policy_named(config.policy)  # the file parses whatever the name; the scheduler refuses it
    except ValidationError as error:
        located = error.within(str(config.source), "scheduler")
        return config, Finding("config", "error", str(located))
    names = ", ".join(config.backends) or "none"
    message = f"{config.source}: policy {config.policy}, backends: {names}"
    return config, Finding("config", "ok", message)


def check_scheduler(address: str | None, timeout_s: float) -> list[Finding]:
    """Which scheduler a process would use (``address``: ``HERMES_SCHEDULER``'s), the token of
    a TCP daemon, and whether the daemon answers."""
    if address is None:
        path = settings.default_socket_path()
        if not listening(path, timeout_s):
            message = (
                f"in process: no daemon listens on {path}, so each process orders only its "
                "own calls (run 'hermes serve' to share one queue between processes)"
            )
            return [Finding("scheduler", "ok", message)]
        findings = [Finding("scheduler", "ok", f"the daemon on the default socket {path}")]
        return [*findings, check_daemon(f"unix://{path}", None, timeout_s, explicit=False)]
    if address.startswith(("redis://", "rediss://")):
        from hermes_agents.commands.check_redis import check_redis

        return check_redis(address, timeout_s)
    findings = [Finding("scheduler", "ok", f"the daemon at {address} (HERMES_SCHEDULER)")]
    token = None
    if urlsplit(address).scheme == "tcp":
        token, finding = check_token()
        findings.append(finding)
    return [*findings, check_daemon(address, token, timeout_s)]


def check_token() -> tuple[str | None, Finding]:
    """The token a ``tcp://`` daemon asks for (None when there is none) and its finding."""
    path = settings.token_path()
    in_file, refused = None, None
    if os.path.lexists(path):
        try:
            in_file = read_private(path)
        except HermesError as error:
            refused = str(error)
    token = settings.scheduler_token()
    if token is None:
        problem = f"the token file is refused: {refused}" if refused else f"{path} does not exist"
        fix = "set HERMES_SCHEDULER_TOKEN, or run 'hermes serve --tcp-port PORT', which writes it"
        return None, Finding("token", "error", f"no token for the TCP daemon ({problem}); {fix}")
    source = str(path) if token == in_file else "HERMES_SCHEDULER_TOKEN"
    return token, Finding("token", "ok", f"from {source}")


def check_daemon(
    address: str, token: str | None, timeout_s: float, *, explicit: bool = True
) -> Finding:
    """Whether the daemon at ``address`` answers ``status``, and what it says about itself
    (``explicit``: ``HERMES_SCHEDULER`` names it, rather than the default socket)."""
    try:
        state = query_status(address, token=token, timeout_s=timeout_s)
    except DaemonUnavailableError as error:
        fix = "or unset HERMES_SCHEDULER" if explicit else "or stop what listens there"
        message = f"{error}; start 'hermes serve' there, {fix}; until then calls run unscheduled"
        return Finding("daemon", "error", message)
    server = str(state.get("server", "?"))
    message = (
        f"{server} answers: policy {state.get('policy')}, clients {state.get('clients')}, "
        f"up {float(state.get('uptime_s', 0)):.0f} s, backends {len(state.get('backends', []))}"
    )
    if server != f"hermes-agents {VERSION}":
        upgrade = f"{message}; this is hermes-agents {VERSION}: restart the daemon after upgrading"
        return Finding("daemon", "warning", upgrade)
    return Finding("daemon", "ok", message)


def check_store() -> Finding:
    """Whether the default profile store opens, or can be created when it is missing."""
    try:
        path = settings.data_dir() / FILE_NAME
    except RuntimeError:  # no HOME and no password entry
        return Finding("profile store", "error", "no home directory: set HERMES_DATA_DIR")
    if not os.path.lexists(path):
        existing = next(parent for parent in path.parents if parent.exists())
        if existing.is_dir() and os.access(existing, os.W_OK | os.X_OK):
            message = f"{path} does not exist yet; it is made when a scheduler first starts"
            return Finding("profile store", "ok", message)
        problem = f"{path} cannot be made: {existing} is not a directory you can write"
        return Finding("profile store", "error", f"{problem}; set HERMES_DATA_DIR to one")
    try:
        with ProfileStore(path) as store:
            apps = store.apps()
    except HermesError as error:
        return Finding("profile store", "error", str(error))
    runs = sum(app.runs for app in apps)
    return Finding("profile store", "ok", f"{path}: {_count(len(apps), 'app')}, {runs} runs")


def check_backends(
    config: Config, *, timeout_s: float, transport: httpx.BaseTransport | None = None
) -> Iterator[Finding]:
    """One finding per backend with a ``base_url``: does its server answer HTTP?"""
    with httpx.Client(timeout=timeout_s, trust_env=False, transport=transport) as client:
        for backend in config.backends.values():
            if backend.base_url is not None:
                yield probe_backend(backend, client)


def probe_backend(backend: BackendConfig, client: httpx.Client) -> Finding:
    """GET ``/health``, then ``/models`` and ``/v1/models``, until one answers 2xx; a server
    that cannot be reached or answers none of them is a warning, never an exception."""
    check = f"backend {backend.name}"
    answers = []
    for url in probe_urls(str(backend.base_url)):
        try:
            response = client.get(url)
        except httpx.HTTPError as error:
            return Finding(check, "warning", _unreachable(backend, url, error))
        if response.is_success:
            return Finding(check, "ok", f"{url} answers {response.status_code}{_models(response)}")
        answers.append(f"{urlsplit(url).path} {response.status_code}")
    message = (
        f"{backend.base_url} answers, but not with success ({', '.join(answers)}); a server "
        f"still loading answers 503, else check base_url in [backends.{backend.name}]"
    )
    return Finding(check, "warning", message)


def probe_urls(base_url: str) -> list[str]:
    """Where to look for a server at ``base_url``, in order, without repeats.

    >>> probe_urls("http://127.0.0.1:8080/v1/")
    ['http://127.0.0.1:8080/v1/health', 'http://127.0.0.1:8080/v1/models']
    """
    base = base_url.rstrip("/")
    urls = [f"{base}/health", f"{base}/models", f"{base}/v1/models"]
    if base.endswith("/v1"):
        urls.pop()
    return urls


def _unreachable(backend: BackendConfig, url: str, error: httpx.HTTPError) -> str:
    why = "no answer in time" if isinstance(error, httpx.TimeoutException) else str(error)
    message = (
        f"cannot reach {url} ({why or type(error).__name__}); start the server, or fix "
        f"base_url in [backends.{backend.name}]"
    )
    if backend.idle_sleep_s is not None:
        message += " (a backend that sleeps when idle may be asleep now)"
    return message


def _models(response: httpx.Response) -> str:
    """``, models: a, b`` from an OpenAI-style ``/models`` answer; empty for anything else."""
    try:
        data: Any = response.json()
    except ValueError:
        return ""
    entries = data.get("data") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return ""
    names = [str(entry["id"]) for entry in entries if isinstance(entry, dict) and "id" in entry]
    return f", models: {', '.join(names[:5])}{', ...' if len(names) > 5 else ''}" if names else ""


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
