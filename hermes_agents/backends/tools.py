"""Tool backends: warm them through a user callable or an HTTP hook.

A tool backend (a code sandbox, a search service, a DNN endpoint) has no standard warm-up API,
so the user says how: a Python callable that gets the hint, or a URL that receives it as JSON::

    POST <hook URL>
    {"backend": "sandbox", "app": "code_feedback", "run_id": "r-17", "action": "wake",
     "probability": 0.8, "expected_in_s": 2.5, "keep_s": 0.0}

Any 2xx answer counts as warm. Fields a hint lacks are sent as null (``action``: ``"wake"``).
For a local process pool with a real cold start, see ``hermes_agents.backends.sandbox``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from hermes_agents.backends.base import BackendError, BackendState, FailOpenAdapter, hint_field
from hermes_agents.backends.httpbase import check_url, make_client
from hermes_agents.errors import ValidationError

if TYPE_CHECKING:
    from hermes_agents.prewarm.hints import (  # type: ignore[import-not-found,unused-ignore]
        WarmHint,
    )

__all__ = ["ToolAdapter", "hint_payload"]

_FIELDS = ("backend", "app", "run_id", "probability", "expected_in_s", "issued_at_s")


def hint_payload(hint: WarmHint | None, backend: str) -> dict[str, Any]:
    """The JSON body a hook receives for ``hint`` (the adapter's backend name as fallback)."""
    payload = {field: hint_field(hint, field, None) for field in _FIELDS}
    payload["backend"] = payload["backend"] or backend
    payload["action"] = hint_field(hint, "action", "wake")
    payload["keep_s"] = hint_field(hint, "keep_s", 0.0)
    return payload


class ToolAdapter(FailOpenAdapter):
    """Adapter for a tool backend: give ``warm`` (a callable) or ``base_url`` (a hook URL).

    ``warm(hint)`` is called with the hint (or None) and may raise; ``state()``, optional,
    returns a ``BackendState``. With a hook, ``timeout_s`` bounds the POST and ``api_key`` is
    sent as a bearer token.

    Example::

        adapter = ToolAdapter(warm=lambda hint: docker_start("sandbox"), name="sandbox")
        hook = ToolAdapter("http://127.0.0.1:9000/warm", name="search")
    """

    kind = "tools"

    def __init__(
        self,
        base_url: str | None = None,
        *,
        warm: Callable[[WarmHint | None], object] | None = None,
        state: Callable[[], BackendState] | None = None,
        name: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = 10.0,
        api_key: str | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(name, clock=clock)
        if (base_url is None) == (warm is None):
            raise ValidationError(
                "give exactly one of base_url (an HTTP hook that receives the hint) or warm "
                "(a callable that receives it)",
                f"{self.kind} adapter",
            )
        self.hook_url = None if base_url is None else check_url(base_url, "field 'base_url'")
        self._warm_fn = warm
        self._state_fn = state
        self._http = None
        if self.hook_url is not None:
            self._http = make_client(
                self.hook_url, transport=transport, timeout_s=timeout_s, api_key=api_key
            )

    def close(self) -> None:
        """Close the hook's HTTP connections, if any."""
        if self._http is not None:
            self._http.close()

    def _warm(self, hint: WarmHint | None) -> None:
        if self._warm_fn is not None:
            self._warm_fn(hint)
            return
        assert self._http is not None
        assert self.hook_url is not None
        response = self._http.post(self.hook_url, json=hint_payload(hint, self.name))
        if response.is_error:
            body = response.text.strip()[:300]
            raise BackendError(
                f"POST {self.hook_url} answered {response.status_code}: {body}",
                response.status_code,
            )

    def _state(self) -> BackendState:
        return BackendState() if self._state_fn is None else self._state_fn()
