"""Lines of the Prometheus text exposition format, for the daemon's and the cluster's metrics.

>>> header("hermes_clients", "gauge", "Connected client processes.")
'# HELP hermes_clients Connected client processes.\\n# TYPE hermes_clients gauge\\n'
>>> sample("hermes_backend_running", 3, backend='a"b')
'hermes_backend_running{backend="a\\\\"b"} 3\\n'
"""

from __future__ import annotations


def escape(value: object) -> str:
    """``value`` as a label value: backslash, double quote and newline escaped."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def header(name: str, kind: str, help_text: str) -> str:
    """The ``# HELP`` and ``# TYPE`` lines of the metric ``name`` (``kind``: gauge, counter)."""
    return f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n"


def sample(name: str, value: object, **labels: object) -> str:
    """One sample line of ``name``: its labels in the order given, escaped, then ``value``."""
    if not labels:
        return f"{name} {value}\n"
    text = ",".join(f'{label}="{escape(given)}"' for label, given in labels.items())
    return f"{name}{{{text}}} {value}\n"
