"""What the load benchmarks (``daemon.py``, ``redis_scheduler.py``) share: their flags and a
process's CPU time from /proc. Imported by those scripts from their own folder."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def load_arguments(doc: str, calls: int) -> argparse.Namespace:
    """``--calls`` (default ``calls``), ``--clients`` and ``--seconds``, parsed; the description
    is ``doc``'s first paragraph."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=calls)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    return parser.parse_args()


def cpu_s(pid: int) -> float:
    """User + system CPU seconds process ``pid`` has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
