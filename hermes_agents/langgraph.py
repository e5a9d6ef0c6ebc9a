"""``hermes_agents.langgraph``: ``instrument()`` (``hermes_agents.dropins.langgraph``)."""

from hermes_agents.dropins.langgraph import InstrumentedGraph, instrument

__all__ = ["InstrumentedGraph", "instrument"]
