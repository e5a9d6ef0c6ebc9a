"""``hermes serve``: run the scheduler daemon that many processes share.

    hermes serve [--socket PATH] [--config FILE] [--policy NAME] [--tcp-port PORT]
                 [--token-file FILE] [--metrics-port PORT] [--lease-s SECONDS]
                 [--scheduler redis://HOST:PORT/DB]

Clients find it through ``HERMES_SCHEDULER=unix:///PATH`` (or the default socket path); it
prints the exact ``export HERMES_SCHEDULER=...`` line for the absolute path it listens on (a
relative ``--socket`` is taken from the current directory). Backends with a
``[backends.NAME.prewarm]`` table in the config are prewarmed by the daemon. With
``--scheduler redis://...`` (or such a ``HERMES_SCHEDULER`` in its environment) the daemon fronts
the Redis scheduler every host shares (``serve_front``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
from pathlib import Path

from hermes_agents import settings
from hermes_agents.capacity import CapacityRuntime
from hermes_agents.capacity.build import capacity_runtime, run_on_loop
from hermes_agents.commands.serve_front import front_service, front_url
from hermes_agents.config import Config, find_config, load_config
from hermes_agents.errors import HermesError, ValidationError, did_you_mean
from hermes_agents.private_files import read_private, write_private
from hermes_agents.scheduling import POLICIES
from hermes_agents.scheduling.daemon.server import Listen, private_directory, serve_forever
from hermes_agents.scheduling.daemon.service import DaemonService
from hermes_agents.scheduling.default import scheduler_from_config
from hermes_agents.scheduling.policies import TIERS_SUFFIX
from hermes_agents.store import ProfileStore

HELP = "run the shared scheduler daemon on a Unix socket (and optional TCP port)"
EXAMPLES = """\
examples:
  hermes serve --config hermes.toml &             # prints: export HERMES_SCHEDULER=unix://...
  eval "$(hermes serve --print-export)"           # set HERMES_SCHEDULER in this shell
  hermes serve --socket ./hermes.sock             # a socket of your own (made absolute)
  hermes serve --tcp-port 7461 --metrics-port 9464
  hermes serve --scheduler redis://cache:6379/0   # this host's processes, in the cluster's order
"""
DEFAULT_LEASE_S = 30.0

logger = logging.getLogger("hermes_agents.serve")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``hermes serve``."""
    parser.add_argument(
        "--socket",
        type=Path,
        help=f"Unix socket to listen on (default: {settings.default_socket_path()}, the path "
        "clients look at when HERMES_SCHEDULER is unset)",
    )
    parser.add_argument(
        "--print-export",
        action="store_true",
        help="print the export HERMES_SCHEDULER=... line for that socket and exit, "
        'e.g. eval "$(hermes serve --print-export)"',
    )
    parser.add_argument("--config", type=Path, help="TOML config (default: $HERMES_CONFIG)")
    parser.add_argument(
        "--policy",
        help=f"override the config's policy: one of {', '.join(POLICIES)}; NAME+tiers orders "
        "by tier first",
    )
    parser.add_argument(
        "--tcp-port", type=int, help="also listen on 127.0.0.1:PORT; clients need the token"
    )
    parser.add_argument(
        "--token-file",
        type=Path,
        help="file holding the TCP token (default: make one and write it to the token path)",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        help="serve Prometheus metrics on 127.0.0.1:PORT/metrics (with --tcp-port, scrapes "
        "must send the token: Authorization: Bearer TOKEN)",
    )
    parser.add_argument(
        "--metrics-no-app-names",
        action="store_true",
        help="leave the per-app series (which name the apps) out of the metrics",
    )
    parser.add_argument(
        "--store",
        type=Path,
        help="profile store to load and keep learned profiles in (default: "
        "$HERMES_DATA_DIR/profiles.sqlite3)",
    )
    parser.add_argument(
        "--no-store", action="store_true", help="learn in memory only; keep no profiles"
    )
    parser.add_argument(
        "--scheduler",
        metavar="URL",
        help="front the Redis scheduler every host shares (redis://host:port/db or rediss://): "
        "this host's processes talk to this daemon, the daemon to Redis (default: "
        "$HERMES_SCHEDULER when it is a redis:// URL)",
    )
    parser.add_argument(
        "--lease-s",
        type=float,
        default=DEFAULT_LEASE_S,
        help="reclaim the slots of a client silent this long (seconds)",
    )


def main(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or Ctrl-C; errors (a taken socket or port, a bad flag) exit 2."""
    if args.print_export:
        print(export_lines(Listen(socket_path(args.socket), tcp_port=args.tcp_port)))
        return 0
    policy = _policy(args.policy)
    config = load_config(args.config) if args.config is not None else find_config()
    url = front_url(args.scheduler)
    if url is not None:
        return _front(args, url, config, policy)
    store = None if args.no_store else ProfileStore(args.store)
    scheduler = scheduler_from_config(config, store=store, policy=policy, auto=False)
    prewarmer = scheduler.prewarmer
    runtime = capacity_runtime(config)  # the auto windows, moved on the daemon's loop
    if runtime is not None:
        runtime.attach(scheduler.core)
        scheduler.capacity = runtime  # scheduler.close() stops it
    try:
        service = DaemonService(
            scheduler.core,
            lease_s=_positive(args.lease_s, "--lease-s"),
            token=_token(args) if args.tcp_port is not None else None,
            prewarmer=prewarmer,
        )
        service.capacity = runtime  # the clients' 429/503 reach the auto windows
        listen = _listen(args)
        if config is None or not config.backends:
            logger.warning("no backends configured (give --config): every backend is unlimited")
        if prewarmer is not None:
            logger.info("prewarming %s", ", ".join(sorted(prewarmer.adapters)))
        print(export_lines(listen), flush=True)
        asyncio.run(_serve(service, listen, runtime))
    finally:
        scheduler.close()  # stops the prewarmer's worker threads
        for adapter in prewarmer.adapters.values() if prewarmer is not None else ():
            adapter.close()
    return 0


def _front(args: argparse.Namespace, url: str, config: Config | None, policy: str | None) -> int:
    """Serve in front of the Redis scheduler at ``url`` (``serve_front``)."""
    if args.store is not None or args.no_store:
        raise ValidationError(
            "learned profiles live in Redis when the daemon fronts it (every host ranks from "
            "them); drop --store and --no-store",
            "--store",
        )
    service, scheduler = front_service(
        url,
        config,
        policy=policy,
        lease_s=_positive(args.lease_s, "--lease-s"),
        token=_token(args) if args.tcp_port is not None else None,
    )
    try:
        listen = _listen(args)
        logger.info("fronting %s: this host's calls take the cluster's order", service.name)
        print(export_lines(listen), flush=True)
        asyncio.run(serve_forever(service, listen))
    finally:
        scheduler.close()  # its waiting calls go ahead; Redis forgets this host's tickets
    return 0


def _listen(args: argparse.Namespace) -> Listen:
    return Listen(
        socket_path=socket_path(args.socket),
        tcp_port=_port(args.tcp_port, "--tcp-port"),
        metrics_port=_port(args.metrics_port, "--metrics-port"),
        metrics_app_names=not args.metrics_no_app_names,
    )


async def _serve(service: DaemonService, listen: Listen, runtime: CapacityRuntime | None) -> None:
    if runtime is not None:
        run_on_loop(runtime, service.core, service.flush, asyncio.get_running_loop())
        logger.info("auto capacity for %s", ", ".join(sorted(runtime.backends)))
    try:
        await serve_forever(service, listen)
    finally:
        if runtime is not None:
            runtime.close()  # before the loop closes: no change may be scheduled on it after


def socket_path(given: Path | None) -> Path:
    """The absolute socket path to listen on: ``given`` (``~`` expanded, a relative path taken
    from the current directory) or the default socket path."""
    if given is None:
        return settings.default_socket_path()
    return Path(os.path.abspath(given.expanduser()))


def export_lines(listen: Listen) -> str:
    """The shell line that points clients at this daemon's socket; with a fixed TCP port, a
    second one (commented out) for clients that connect by TCP."""
    lines = [f"export HERMES_SCHEDULER=unix://{listen.socket_path}"]
    if listen.tcp_port:
        lines.append(f"# or by TCP: export HERMES_SCHEDULER=tcp://127.0.0.1:{listen.tcp_port}")
    return "\n".join(lines)


def _policy(name: str | None) -> str | None:
    if name is not None and name.removesuffix(TIERS_SUFFIX) not in POLICIES:  # +tiers: any
        raise ValidationError(
            f"unknown policy {name!r}{did_you_mean(name, POLICIES)}; use one of "
            f"{', '.join(POLICIES)}",
            "--policy",
        )
    return name


def _token(args: argparse.Namespace) -> str:
    if args.token_file is not None:
        try:
            token = read_private(Path(args.token_file))
        except HermesError as error:
            raise ValidationError(str(error), "--token-file") from error
        if not token:
            raise ValidationError("the file is empty; put the token in it", "--token-file")
        return token
    token = secrets.token_urlsafe(32)
    path = settings.token_path()
    private_directory(path.parent)
    write_private(path, token)
    logger.info("TCP token written to %s (clients read it there, or HERMES_SCHEDULER_TOKEN)", path)
    return token


def _port(value: int | None, flag: str) -> int | None:
    if value is not None and not 0 <= value <= 65535:
        raise ValidationError(f"must be a port 0..65535 (0: any free port), got {value}", flag)
    return value


def _positive(value: float, flag: str) -> float:
    if not value > 0 or value == float("inf"):
        raise ValidationError(f"must be a positive number of seconds, got {value}", flag)
    return value
