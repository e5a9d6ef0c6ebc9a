"""``hermes graph``: show what hermes has learned about an app, from the profile store.

    hermes graph APP [--store PATH] [--mermaid | --png OUT.png | --json]
    hermes graph --list [--store PATH]

The app's PDGraph is rebuilt the way the scheduler builds it (``AppModels``: its stored prior,
then its stored runs replayed into a learner), so what is shown is what ranks its runs. By
default a table of stages: kind, backend, visits in the stored runs, mean demand, successors
with their probabilities. ``--mermaid`` prints a Mermaid flowchart, ``--png`` draws it,
``--json`` prints the table's data and the graph in the workload format.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hermes_agents import settings
from hermes_agents.commands.console import console
from hermes_agents.errors import ValidationError, did_you_mean
from hermes_agents.extras import require
from hermes_agents.pdgraph import PDGraph
from hermes_agents.pdgraph.render import (
    demand_label,
    mean_demand,
    probability_label,
    save_png,
    to_mermaid,
)
from hermes_agents.scheduling.models import AppModels
from hermes_agents.store import FILE_NAME, AppProfile, ProfileStore

if TYPE_CHECKING:
    from rich.table import Table

HELP = "show an app's learned PDGraph: a table, Mermaid or a PNG"
EXAMPLES = """\
examples:
  hermes graph --list                    # the apps in the profile store and their runs
  hermes graph research                  # research's stages: kind, backend, demand, successors
  hermes graph research --mermaid        # a Mermaid flowchart
  hermes graph research --png research.png
  hermes graph rag --store ~/.local/share/hermes/demo-profiles.sqlite3   # the demo's apps
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``hermes graph``."""
    parser.add_argument("app", nargs="?", metavar="APP", help="the app (its name in the store)")
    parser.add_argument(
        "--store",
        type=Path,
        metavar="PATH",
        help="profile store to read (default: $HERMES_DATA_DIR/profiles.sqlite3, the one "
        "hermes serve and in-process schedulers write)",
    )
    parser.add_argument("--list", action="store_true", help="list the apps in the store")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--mermaid", action="store_true", help="print a Mermaid flowchart")
    output.add_argument("--png", type=Path, metavar="OUT", help="draw the graph into a PNG")
    output.add_argument("--json", action="store_true", help="print the stages and graph as JSON")
    output.add_argument(
        "--bad",
        action="store_true",
        help="list the app's stored runs that cannot be learned (unreadable, out of bounds, "
        "stages that do not fit), with why",
    )
    output.add_argument(
        "--remove-bad", action="store_true", help="delete the runs --bad lists from the store"
    )


def main(args: argparse.Namespace) -> int:
    """Show the app's graph (or the list of apps); errors name the flag and the fix.

    ``--mermaid`` and ``--json`` need only the base install; the tables need the ``cli`` extra,
    ``--png`` too (matplotlib)."""
    if not (args.mermaid or args.json):
        require("cli")
    path = _store_path(args.store)
    with ProfileStore(path) as store:
        profiles = store.apps()
        if args.list:
            console().print(_apps_table(profiles, path))
            return 0
        profile = _find(profiles, args.app, path)
        if args.bad or args.remove_bad:
            return _bad_runs(store, profile.name, remove=args.remove_bad)
        graph = learned_graph(store, profile.name)
        visits = _visits(store, profile.name)
    if graph is None:  # a profile row with neither runs nor prior cannot happen; be safe
        raise ValidationError(f"app {profile.name!r} has nothing to show yet", "argument APP")
    if args.mermaid:
        print(to_mermaid(graph), end="")
    elif args.png is not None:
        print(f"wrote {_png(graph, args.png)}")  # plain: a long path must stay one line
    elif args.json:
        print(json.dumps(describe(graph, visits, profile), indent=2))
    else:
        console().print(_stages_table(graph, visits, profile))
    return 0


def _bad_runs(store: ProfileStore, app: str, *, remove: bool) -> int:
    """Print (and with ``remove`` delete) the stored runs of ``app`` that cannot be learned."""
    bad = store.bad_runs(app)
    for row_id, why in bad:
        print(f"run {row_id}: {why}")
    if remove and bad:
        deleted = store.remove_runs(app, [row_id for row_id, _ in bad])
        print(f"removed {deleted} bad run(s) of {app!r}")
    elif not bad:
        print(f"every stored run of {app!r} can be learned")
    return 0


def learned_graph(store: ProfileStore, app: str) -> PDGraph | None:
    """The PDGraph of ``app`` as a scheduler using ``store`` would build it (stored prior and
    runs through ``AppModels``); None when the store holds nothing for it."""
    models = AppModels(store=store)
    models.add(app, store.prior(app))
    return models.graph(app)


def describe(graph: PDGraph, visits: Counter[str], profile: AppProfile) -> dict[str, Any]:
    """The ``--json`` document: the app, one record per stage, and the workload-format graph."""
    stages = {
        name: {
            "kind": str(stage.kind),
            "backend": stage.backend,
            "visits": visits.get(name, 0),
            "mean": mean_demand(stage),
            "next": dict(stage.next),
            "next_by_visit": {str(k): dict(v) for k, v in stage.next_by_visit.items()},
        }
        for name, stage in graph.stages.items()
    }
    return {
        "app": profile.name,
        "runs": profile.runs,
        "last_observed_at": profile.last_observed_at,
        "version": graph.version,
        "entry": graph.entry,
        "stages": stages,
        "pdgraph": graph.to_dict(),
    }


def _store_path(given: Path | None) -> Path:
    path = given if given is not None else settings.data_dir() / FILE_NAME
    if not path.is_file():
        fix = "give --store PATH" if given is not None else "set HERMES_DATA_DIR or give --store"
        raise ValidationError(
            f"no profile store at {str(path)!r}: no app has been learned there yet; run an "
            f"instrumented app first (its runs are stored there), or {fix}",
            "--store",
        )
    return path


def _find(profiles: list[AppProfile], app: str | None, path: Path) -> AppProfile:
    known = ", ".join(profile.name for profile in profiles) or "none yet"
    if app is None:
        raise ValidationError(
            f"name the app to show (apps in {str(path)!r}: {known}), or use --list", "argument APP"
        )
    for profile in profiles:
        if profile.name == app:
            return profile
    guess = did_you_mean(app, [profile.name for profile in profiles])
    raise ValidationError(
        f"no app {app!r} in the profile store {str(path)!r}{guess}; known apps: {known}",
        "argument APP",
    )


def _visits(store: ProfileStore, app: str) -> Counter[str]:
    """Visits of each stage in the stored runs (each run counts every visit it made)."""
    return Counter(visit.stage for run in store.runs(app) for visit in run)


def _png(graph: PDGraph, out: Path) -> Path:
    if out.suffix.lower() != ".png":
        raise ValidationError(f"{str(out)!r} must end in .png", "--png")
    if not out.parent.is_dir():
        raise ValidationError(f"folder {str(out.parent)!r} does not exist; create it", "--png")
    return save_png(graph, out)


def _apps_table(profiles: list[AppProfile], path: Path) -> Table:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"Apps in {path}", title_justify="left")
    for column in ("app", "runs", "last run (UTC)", "prior"):
        table.add_column(column, justify="left" if column == "app" else "right")
    for profile in profiles:
        prior = "-" if profile.prior_version is None else f"v{profile.prior_version}"
        table.add_row(
            escape(profile.name), str(profile.runs), _when(profile.last_observed_at), prior
        )
    if not profiles:
        table.add_row("-", "0", "-", "-")
    return table


def _when(unix_s: float | None) -> str:
    if unix_s is None:
        return "-"
    from datetime import UTC, datetime

    return datetime.fromtimestamp(unix_s, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _stages_table(graph: PDGraph, visits: Counter[str], profile: AppProfile) -> Table:
    from rich.markup import escape
    from rich.table import Table

    title = (
        f"{graph.name}: PDGraph version {graph.version}, learned from {profile.runs} stored "
        f"run(s); entry {graph.entry}"
    )
    table = Table(title=title, title_justify="left")
    for column in ("stage", "kind", "backend", "visits", "mean demand", "next", "per-visit"):
        table.add_column(column, justify="right" if column == "visits" else "left")
    for name, stage in graph.stages.items():
        successors = sorted(stage.next.items(), key=lambda item: -item[1])
        by_visit = sorted(stage.next_by_visit)
        table.add_row(
            f"[bold]{escape(name)}[/bold]" if name == graph.entry else escape(name),
            str(stage.kind),
            escape(stage.backend),
            str(visits.get(name, 0)),
            demand_label(stage),
            escape(", ".join(f"{to} {probability_label(p)}" for to, p in successors if p > 0)),
            f"visits {by_visit[0]}-{by_visit[-1]}" if by_visit else "-",
        )
    return table
