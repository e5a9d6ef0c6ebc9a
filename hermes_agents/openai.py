"""``hermes_agents.openai``: the drop-in OpenAI clients (``hermes_agents.dropins.openai``)."""

from hermes_agents.dropins.openai import (
    SCHEDULED_PATHS,
    AsyncOpenAI,
    OpenAI,
    PriorityStyle,
    priority_hint,
)

__all__ = ["SCHEDULED_PATHS", "AsyncOpenAI", "OpenAI", "PriorityStyle", "priority_hint"]
