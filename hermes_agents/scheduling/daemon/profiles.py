"""The daemon's side of app profiles: a prior from a client, the learned graph a client asks
for, and loading an app's stored profile off the event loop (``LearningWorker.load``)."""

from __future__ import annotations

from typing import Any

from hermes_agents.errors import HermesError
from hermes_agents.pdgraph import PDGraph
from hermes_agents.scheduling.daemon.protocol import ProtocolError
from hermes_agents.scheduling.learning import LearningWorker
from hermes_agents.scheduling.state import DemandModels


def prior_of(message: dict[str, Any]) -> PDGraph:
    """The structural prior a ``prior`` message carries; ``ProtocolError`` when it is no
    PDGraph of that app."""
    try:
        prior = PDGraph.from_dict(message["graph"])
    except HermesError as error:
        raise ProtocolError(f"field 'graph': {error}", op="prior") from None
    if prior.name != message["app"]:
        raise ProtocolError(
            f"field 'graph': names app {prior.name!r}, not {message['app']!r}", op="prior"
        )
    return prior


def graph_reply(models: DemandModels | None, app: str) -> dict[str, Any]:
    """The answer to ``graph``: the app's learned PDGraph (JSON) and its version, or null."""
    return graph_answer(app, models.graph(app) if models is not None else None)


def graph_answer(app: str, graph: PDGraph | None) -> dict[str, Any]:
    """The ``graph`` message for ``app``'s ``graph`` (None: unknown)."""
    reply: dict[str, Any] = {"op": "graph", "app": app, "graph": None}
    if graph is not None:
        reply.update(graph=graph.to_dict(), version=graph.version)
    return reply


def load_profile(
    models: DemandModels | None,
    learner: LearningWorker | None,
    app: str,
    prior: PDGraph | None = None,
) -> None:
    """Start learning ``app`` from what the profile store holds (and ``prior``), so that a
    restarted daemon ranks and prewarms with its stored profile. On the learning thread: the
    loop never reads the store; runs already in flight get the model when it arrives
    (``DaemonService.flush``)."""
    if models is None or (prior is None and models.demand(app) is not None):
        return  # known already
    if learner is None:
        models.add(app, prior)
    else:
        learner.load(app, prior)
