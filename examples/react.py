"""ReAct tool loop (thought -> tools -> thought ... -> END) on a local SmolLM2, scheduled by Hermes.

Run: python examples/react.py [--tasks N] [--seed N] [--model PATH] [--threads N]
     [--base-url URL]
The task's plan decides which tools are called (the tiny model cannot call tools itself);
the thoughts and the answer are the model's text. See docs/examples.md.
"""

import random

from hermes_agents.apps import example_limits, local_toolkit
from hermes_agents.apps.react import APP
from hermes_agents.apps.script import parse_args, servers, show_learned
from hermes_agents.langgraph import instrument
from hermes_agents.scheduling import LocalScheduler


def main() -> None:
    """Start the server, run the tasks, print the answers and what Hermes learned."""
    args = parse_args(__doc__)
    # In-process: what it learns stays in memory (get_scheduler() would also persist it).
    scheduler = LocalScheduler.in_process(example_limits())
    with servers(args) as server:
        toolkit = local_toolkit(server.chat_url, server.model_name, scheduler=scheduler)
        app = instrument(APP.build(toolkit), name=APP.name, scheduler=scheduler)
        rng = random.Random(args.seed)
        for _ in range(args.tasks):
            result = app.invoke(APP.make_input(rng))
            for message in result["messages"]:
                print(f"  {type(message).__name__}: {message.text[:100]!r}")
            print(f"answer: {result['answer']!r}\n")
    show_learned(app, "thought")


if __name__ == "__main__":
    main()
