"""``hermes_agents.tools``: ``@tool`` (``hermes_agents.dropins.tools``)."""

from hermes_agents.dropins.tools import DEFAULT_TOOL_BACKEND, tool

__all__ = ["DEFAULT_TOOL_BACKEND", "tool"]
