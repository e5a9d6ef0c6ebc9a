"""Code and test (generate -> run_tests -> generate ... -> END) on a local SmolLM2, scheduled by
Hermes; the tests really run in a Python subprocess, a scheduled tool on backend "sandbox".

Run: python examples/code_test.py [--tasks N] [--seed N] [--model PATH] [--threads N]
     [--base-url URL]
The task's plan decides how many attempts fail (the tiny model cannot write passing code); the
drafts are the model's text. See docs/examples.md.
"""

import random

from hermes_agents.apps import example_limits, local_toolkit
from hermes_agents.apps.code_test import APP
from hermes_agents.apps.script import parse_args, servers, show_learned
from hermes_agents.langgraph import instrument
from hermes_agents.scheduling import LocalScheduler


def main() -> None:
    """Start the server, run the tasks, print the test reports and what Hermes learned."""
    args = parse_args(__doc__)
    # In-process: what it learns stays in memory (get_scheduler() would also persist it).
    scheduler = LocalScheduler.in_process(example_limits())
    with servers(args) as server:
        toolkit = local_toolkit(server.chat_url, server.model_name, scheduler=scheduler)
        app = instrument(APP.build(toolkit), name=APP.name, scheduler=scheduler)
        rng = random.Random(args.seed)
        for _ in range(args.tasks):
            result = app.invoke(APP.make_input(rng))
            print(f"problem {result['problem']!r}, planned failures {result['failures']}")
            for draft, report in zip(result["drafts"], result["reports"], strict=True):
                verdict = "passed" if report == "passed" else f"failed ({report.splitlines()[-1]})"
                print(f"  draft {draft[:60]!r} -> tests {verdict}")
            print(f"passed: {result['passed']}\n")
    show_learned(app, "run_tests")


if __name__ == "__main__":
    main()
