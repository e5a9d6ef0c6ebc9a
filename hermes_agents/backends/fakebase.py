"""The base of the protocol-faithful fakes in ``hermes_agents.backends.testing``.

A fake is a stateful ``httpx.MockTransport`` handler: routes by ``(method, path)``, a log of
every request, and two switches that break it the way real servers break (an error status on
every route, or a dead process that refuses connections).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["FakeServer", "Handler", "RecordedRequest", "openai_error"]

Handler = Callable[[httpx.Request, Any], httpx.Response]


@dataclass(frozen=True)
class RecordedRequest:
    """One request a fake received."""

    method: str
    path: str
    params: Mapping[str, list[str]]
    body: Any = None
    """The decoded JSON body, or None."""


@dataclass
class FakeServer:
    """Base of the fakes: routing, request log, failure switches, ``transport()``."""

    requests: list[RecordedRequest] = field(default_factory=list, init=False)
    """Every request received, in order."""
    fail_status: int | None = field(default=None, init=False)
    """When set, every route answers this status (a server in trouble)."""
    crashed: bool = field(default=False, init=False)
    """When set, every request fails to connect (the process is gone)."""
    lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def transport(self) -> httpx.MockTransport:
        """An ``httpx`` transport answering from this fake."""
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request (the ``httpx.MockTransport`` handler)."""
        body = json.loads(request.content) if request.content else None
        params = {key: request.url.params.get_list(key) for key in request.url.params}
        with self.lock:
            self.requests.append(RecordedRequest(request.method, request.url.path, params, body))
            if self.crashed:
                raise httpx.ConnectError("connection refused (the fake died)", request=request)
            if self.fail_status is not None:
                return httpx.Response(self.fail_status, text="Internal Server Error")
            route = self.routes().get((request.method, request.url.path))
            if route is None:
                return httpx.Response(404, json={"detail": "Not Found"})  # FastAPI's answer
            return route(request, body)

    def routes(self) -> dict[tuple[str, str], Handler]:
        """``(method, path)`` -> handler; subclasses list their server's routes."""
        return {}

    def paths(self, method: str | None = None) -> list[str]:
        """Paths requested so far (of one method, if given)."""
        return [r.path for r in self.requests if method is None or r.method == method]


def openai_error(status: int, kind: str, message: str) -> httpx.Response:
    """An OpenAI-style error answer: ``{"error": {"message", "type", "param", "code"}}``."""
    error = {"message": message, "type": kind, "param": None, "code": status}
    return httpx.Response(status, json={"error": error})
