"""A protocol-faithful fake of Ollama's API (re-exported by ``hermes_agents.backends.testing``).

Source: https://github.com/ollama/ollama/blob/main/docs/api.md ("Load a model", "Unload a
model", "List Running Models"; errors as ``{"error": "..."}``; ``keep_alive`` as seconds or a
duration string, negative = forever, 0 = unload).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from hermes_agents.backends.fakebase import FakeServer, Handler

__all__ = ["FakeOllama", "ollama_keep_alive_s"]

_DURATION = re.compile(r"^(-?\d+(?:\.\d+)?)(ms|s|m|h)$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def ollama_keep_alive_s(value: Any, default_s: float = 300.0) -> float:
    """Seconds for an Ollama ``keep_alive`` (number of seconds or ``"5m"``); inf = forever."""
    if value is None:
        return default_s
    if isinstance(value, str):
        match = _DURATION.match(value.strip())
        if match is None:
            raise ValueError(f"time: invalid duration {value!r}")
        seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
    else:
        seconds = float(value)
    return float("inf") if seconds < 0 else seconds


@dataclass
class FakeOllama(FakeServer):
    """Ollama with some pulled models; ``clock`` drives ``keep_alive`` expiry.

    Source: https://github.com/ollama/ollama/blob/main/docs/api.md .
    """

    models: tuple[str, ...] = ("llama3.2:latest",)
    clock: Callable[[], float] = time.time
    expires: dict[str, float] = field(default_factory=dict)
    """Loaded model -> expiry time on ``clock`` (inf = until stopped)."""
    loads: int = 0

    def routes(self) -> dict[tuple[str, str], Handler]:
        return {
            ("GET", "/"): lambda r, b: httpx.Response(200, text="Ollama is running"),
            ("GET", "/api/version"): lambda r, b: httpx.Response(200, json={"version": "0.12.0"}),
            ("GET", "/api/ps"): self._ps,
            ("POST", "/api/generate"): self._generate,
        }

    def _name(self, model: str) -> str:
        return model if ":" in model.rsplit("/", 1)[-1] else f"{model}:latest"

    def _loaded(self) -> list[str]:
        now = self.clock()
        return [m for m, until in self.expires.items() if until > now]

    def _ps(self, request: httpx.Request, body: Any) -> httpx.Response:
        cards = []
        for name in self._loaded():
            until = self.expires[name]
            stamp = "2318-08-12T00:00:00Z" if until == float("inf") else _rfc3339(until)
            cards.append(
                {
                    "name": name,
                    "model": name,
                    "size": 2_019_393_189,
                    "digest": "a80c4f17acd5",
                    "expires_at": stamp,
                    "size_vram": 2_019_393_189,
                    "context_length": 4096,
                    "details": {"format": "gguf", "family": "llama"},
                }
            )
        return httpx.Response(200, json={"models": cards})

    def _generate(self, request: httpx.Request, body: Any) -> httpx.Response:
        name = self._name(str((body or {}).get("model", "")))
        if name not in self.models:
            return httpx.Response(404, json={"error": f"model '{body.get('model')}' not found"})
        try:
            keep = ollama_keep_alive_s((body or {}).get("keep_alive"))
        except ValueError as error:
            return httpx.Response(400, json={"error": str(error)})
        reply = {"model": body["model"], "created_at": _rfc3339(self.clock()), "response": ""}
        if keep == 0:
            self.expires.pop(name, None)
            return httpx.Response(200, json={**reply, "done": True, "done_reason": "unload"})
        if name not in self._loaded():
            self.loads += 1
        self.expires[name] = self.clock() + keep
        reason = "load" if not (body or {}).get("prompt") else "stop"
        return httpx.Response(200, json={**reply, "done": True, "done_reason": reason})


def _rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")
