"""docs/scheduler-interface.md's minimal implementation runs as written (the interface is
small enough to implement in a page)."""

from __future__ import annotations

import re
from pathlib import Path

PAGE = Path(__file__).resolve().parents[1] / "docs" / "scheduler-interface.md"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def test_the_minimal_implementation_runs() -> None:
    (code,) = BLOCK.findall(PAGE.read_text())
    namespace: dict[str, object] = {}
    exec(compile(code, str(PAGE), "exec"), namespace)
    scheduler = namespace["scheduler"]
    assert scheduler.unscheduled_calls == 0  # type: ignore[attr-defined]
    assert scheduler.runs == set()  # type: ignore[attr-defined]
