"""Map-reduce summary (split -> summarize_chunk x N via Send -> combine) on a local SmolLM2,
scheduled by Hermes.

Run: python examples/map_reduce.py [--tasks N] [--seed N] [--model PATH] [--threads N]
     [--base-url URL]
The fan-out width is the document's number of paragraphs (2..8).
"""

import random

from hermes_agents.apps import example_limits, local_toolkit
from hermes_agents.apps.map_reduce import APP
from hermes_agents.apps.script import parse_args, servers, show_learned
from hermes_agents.langgraph import instrument
from hermes_agents.scheduling import LocalScheduler


def main() -> None:
    """Start the server, run the tasks, print the summaries and what Hermes learned."""
    args = parse_args(__doc__)
    # In-process: what it learns stays in memory (get_scheduler() would also persist it).
    scheduler = LocalScheduler.in_process(example_limits())
    with servers(args) as server:
        toolkit = local_toolkit(server.chat_url, server.model_name, scheduler=scheduler)
        app = instrument(APP.build(toolkit), name=APP.name, scheduler=scheduler)
        rng = random.Random(args.seed)
        for _ in range(args.tasks):
            result = app.invoke(APP.make_input(rng))
            print(f"{len(result['chunks'])} chunks")
            for index, summary in sorted(result["summaries"]):
                print(f"  {index}: {summary[:80]!r}")
            print(f"summary: {result['summary']!r}\n")
    show_learned(app, "summarize_chunk")


if __name__ == "__main__":
    main()
