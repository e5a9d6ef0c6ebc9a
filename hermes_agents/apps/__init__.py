"""Five real LangGraph apps for the docs, ``hermes demo`` and CI: ``EXAMPLES[name]``.

>>> sorted(EXAMPLES)
['code_test', 'map_reduce', 'rag', 'react', 'supervisor']

Each is an ``ExampleApp``: ``build(toolkit)`` returns the compiled graph, made with the
toolkit's chat model (and embeddings, for ``rag``) and tools; ``make_input(rng)`` draws one task.
A task carries the plan that fixes the run's shape (loop turns, test failures, fan-out width),
because the small local model cannot be trusted to drive the control flow; the LLM's text still
flows into the state and the answer. ``local_toolkit(url, model)`` builds a toolkit over
llama.cpp servers (``hermes_agents.local.LlamaServer``)::

    app = EXAMPLES["react"]
    graph = instrument(app.build(local_toolkit(server.base_url, server.model_name)), name=app.name)
    graph.invoke(app.make_input(random.Random(0)))
"""

from hermes_agents.apps import code_test, map_reduce, rag, react, supervisor
from hermes_agents.apps.toolkit import (
    DEFAULT_MAX_TOKENS,
    ExampleApp,
    Graph,
    Toolkit,
    example_limits,
    local_toolkit,
)

EXAMPLES: dict[str, ExampleApp] = {
    app.name: app for app in (rag.APP, react.APP, code_test.APP, map_reduce.APP, supervisor.APP)
}
"""The example apps by name: ``rag``, ``react``, ``code_test``, ``map_reduce``, ``supervisor``."""

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "EXAMPLES",
    "ExampleApp",
    "Graph",
    "Toolkit",
    "example_limits",
    "local_toolkit",
]
