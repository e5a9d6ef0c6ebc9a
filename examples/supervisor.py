"""Supervisor (supervisor -> researcher / writer via Command -> supervisor ... -> END) on a local
SmolLM2, scheduled by Hermes.

Run: python examples/supervisor.py [--tasks N] [--seed N] [--model PATH] [--threads N]
     [--base-url URL]
The task's plan decides which sub-agent works at each turn (the tiny model cannot be trusted to
route); the decisions, notes and report are the model's text. See docs/examples.md.
"""

import random

from hermes_agents.apps import example_limits, local_toolkit
from hermes_agents.apps.script import parse_args, servers, show_learned
from hermes_agents.apps.supervisor import APP
from hermes_agents.langgraph import instrument
from hermes_agents.scheduling import LocalScheduler


def main() -> None:
    """Start the server, run the tasks, print the reports and what Hermes learned."""
    args = parse_args(__doc__)
    # In-process: what it learns stays in memory (get_scheduler() would also persist it).
    scheduler = LocalScheduler.in_process(example_limits())
    with servers(args) as server:
        toolkit = local_toolkit(server.chat_url, server.model_name, scheduler=scheduler)
        app = instrument(APP.build(toolkit), name=APP.name, scheduler=scheduler)
        rng = random.Random(args.seed)
        for _ in range(args.tasks):
            result = app.invoke(APP.make_input(rng))
            print(f"topic {result['topic']!r}, turns {result['turns']}")
            for decision in result["decisions"]:
                print(f"  supervisor -> {decision[:80]}")
            print(f"report: {result['report']!r}\n")
    show_learned(app, "supervisor")


if __name__ == "__main__":
    main()
