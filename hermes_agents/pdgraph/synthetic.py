"""Draw runs from a PDGraph: the observations an app of that class would produce.

Used to check that the learner recovers a known graph, and by benchmarks and the simulator.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import numpy as np

from hermes_agents.pdgraph.distributions import Distribution
from hermes_agents.pdgraph.learner import Call, Visit
from hermes_agents.pdgraph.model import END, PDGraph, Stage


def sample_run(graph: PDGraph, rng: np.random.Generator, *, max_visits: int = 1000) -> list[Visit]:
    """One run from the entry to END (at most ``max_visits`` visits)."""
    run: list[Visit] = []
    numbers: Counter[str] = Counter()
    name = graph.entry
    while name != END and len(run) < max_visits:
        stage = graph.stages[name]
        numbers[name] += 1
        run.append(_visit(stage, rng))
        table = stage.successors(numbers[name])
        targets = list(table)
        name = targets[int(rng.choice(len(targets), p=_normalised(list(table.values()))))]
    return run


def sample_runs(graph: PDGraph, rng: np.random.Generator, count: int) -> Iterator[list[Visit]]:
    """``count`` independent runs."""
    for _ in range(count):
        yield sample_run(graph, rng)


def _visit(stage: Stage, rng: np.random.Generator) -> Visit:
    width = int(_draw(stage.fanout, rng))
    calls = tuple(
        Call(
            prompt_tokens=int(_draw(stage.prompt_tokens, rng)),
            output_tokens=int(_draw(stage.output_tokens, rng)),
            prefix_tokens=int(_draw(stage.prefix_tokens, rng)),
            seconds=_draw(stage.seconds, rng),
        )
        for _ in range(width)
    )
    return Visit(stage.name, stage.kind, stage.backend, calls)


def _draw(distribution: Distribution | None, rng: np.random.Generator) -> float:
    if distribution is None:
        return 0.0
    samples = distribution.samples
    return float(samples[rng.integers(samples.size)])


def _normalised(probabilities: list[float]) -> list[float]:
    total = sum(probabilities)
    return [p / total for p in probabilities]
