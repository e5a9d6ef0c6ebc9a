"""RAG (HyDE draft -> retrieve -> answer) on a local SmolLM2 and embeddings server, with Hermes.

Run: python examples/rag.py [--tasks N] [--seed N] [--model PATH] [--threads N]
     [--base-url URL]
The embeddings come from a second llama.cpp server for the same model (embeddings=True).
"""

import random

from hermes_agents.apps import example_limits, local_toolkit
from hermes_agents.apps.rag import APP
from hermes_agents.apps.script import parse_args, servers, show_learned
from hermes_agents.langgraph import instrument
from hermes_agents.scheduling import LocalScheduler


def main() -> None:
    """Start both servers, run the tasks, print the answers and what Hermes learned."""
    args = parse_args(__doc__)
    # In-process: what it learns stays in memory (get_scheduler() would also persist it).
    scheduler = LocalScheduler.in_process(example_limits())
    with servers(args, embeddings=True) as server:
        toolkit = local_toolkit(
            server.chat_url,
            server.model_name,
            embeddings_url=server.embeddings_url,
            scheduler=scheduler,
        )
        app = instrument(APP.build(toolkit), name=APP.name, scheduler=scheduler)
        rng = random.Random(args.seed)
        for _ in range(args.tasks):
            result = app.invoke(APP.make_input(rng))
            print(f"question: {result['question']!r}")
            print(f"draft:    {result['draft']!r}")
            print(f"passages: {result['passages']}")
            print(f"answer:   {result['answer']!r}\n")
    show_learned(app, "retrieve")


if __name__ == "__main__":
    main()
