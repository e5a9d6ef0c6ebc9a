"""HTTP plumbing shared by the adapters that talk to servers: one ``httpx.Client`` each.

The transport is injectable (``transport=httpx.MockTransport(fake.handle)`` in tests, see
``hermes_agents.backends.testing``). Timeouts are short for status reads (``timeout_s``) and
longer for warm-ups that load weights (``warm_timeout_s``). Nothing is retried here: a hint is
best effort, and the planner's next hint is the retry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from hermes_agents.backends.base import BackendError, FailOpenAdapter
from hermes_agents.errors import ValidationError

__all__ = ["HTTPAdapter", "check_url", "make_client", "pick_prefix", "root_url"]

_URL = re.compile(r"https?://[^\s/?#@]+(?:/\S*)?")
_CONNECT_S = 2.0
_BODY_CHARS = 300


def check_url(url: object, field: str) -> str:
    """``url`` if it is an http(s) URL; a ``ValidationError`` naming ``field`` otherwise."""
    if not isinstance(url, str) or not _URL.fullmatch(url):
        example = "'http://127.0.0.1:8000'"
        raise ValidationError(f"must be an http(s) URL such as {example}, got {url!r}", field)
    return url


def root_url(base_url: str) -> str:
    """The server's root: ``base_url`` without a trailing ``/`` or ``/v1``.

    Both ``http://host:8000`` and the OpenAI-style ``http://host:8000/v1`` name the same server.
    """
    url = check_url(base_url, "field 'base_url'").rstrip("/")
    return url.removesuffix("/v1")


def _positive(value: float, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValidationError(f"must be a number of seconds > 0, got {value!r}", f"field {field!r}")
    return float(value)


def make_client(
    url: str,
    *,
    transport: httpx.BaseTransport | None,
    timeout_s: float,
    api_key: str | None,
) -> httpx.Client:
    """An ``httpx.Client`` for ``url`` with a short connect timeout and optional bearer key."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, _CONNECT_S))
    return httpx.Client(base_url=url, transport=transport, timeout=timeout, headers=headers)


def pick_prefix(app: str | None, prefix: str | None, prefixes: Mapping[str, str]) -> str | None:
    """The prompt prefix to warm for ``app``: its own, else the shared one, else None."""
    if app is not None and app in prefixes:
        return prefixes[app]
    return prefix


class HTTPAdapter(FailOpenAdapter):
    """A ``FailOpenAdapter`` with an HTTP client for the server at ``base_url``.

    ``timeout_s`` bounds status reads, ``warm_timeout_s`` the requests that load or wake
    (``warm_request``); ``api_key`` is sent as a bearer token; ``transport`` replaces the
    network (tests).
    """

    def __init__(
        self,
        base_url: str,
        *,
        name: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = 2.0,
        warm_timeout_s: float = 60.0,
        api_key: str | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(name, clock=clock)
        self.url = root_url(base_url)
        """The server's root URL (no trailing ``/v1``)."""
        self.timeout_s = _positive(timeout_s, "timeout_s")
        self.warm_timeout_s = _positive(warm_timeout_s, "warm_timeout_s")
        self._http = make_client(
            self.url, transport=transport, timeout_s=self.timeout_s, api_key=api_key
        )

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        warm: bool = False,
    ) -> httpx.Response:
        """Send one request; a 4xx/5xx answer raises ``BackendError`` with status and body.

        ``warm=True`` allows ``warm_timeout_s`` (loading weights takes a while).
        """
        timeout = self.warm_timeout_s if warm else self.timeout_s
        limits = httpx.Timeout(timeout, connect=min(timeout, _CONNECT_S))
        response = self._http.request(method, path, json=json, params=params, timeout=limits)
        if response.is_error:
            body = response.text.strip().replace("\n", " ")[:_BODY_CHARS]
            raise BackendError(
                f"{method} {self.url}{path} answered {response.status_code}: {body}",
                response.status_code,
            )
        return response

    def get_json(self, path: str) -> Any:
        """``GET path`` decoded as JSON."""
        return self.request("GET", path).json()

    def get_text(self, path: str) -> str:
        """``GET path`` as text (e.g. Prometheus ``/metrics``)."""
        return self.request("GET", path).text
