"""The installed version of hermes-agents (one place to read it)."""

from __future__ import annotations

from importlib import metadata

try:
    VERSION = metadata.version("hermes-agents")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    VERSION = "0+unknown"
