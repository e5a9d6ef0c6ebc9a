"""``OpenAI`` and ``AsyncOpenAI``: openai's clients, with model calls inside Hermes slots."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import (
    TYPE_CHECKING,
    Any,
    Literal,
    Self,
    TypeVar,
    cast,
    get_args,
    get_type_hints,
    overload,
)

import httpx2
import openai

from hermes_agents.config import client_base_url, find_config
from hermes_agents.config_enforce import client_priority
from hermes_agents.dropins.openai.refusal import arefused_in_stream, refused_in_stream
from hermes_agents.dropins.openai.request import call_slot, refuses_priority, with_hint
from hermes_agents.dropins.openai.response import hold, observe
from hermes_agents.errors import ValidationError
from hermes_agents.priority import PRIORITY_REFUSED, PriorityStyle
from hermes_agents.scheduling.default import check_environment
from hermes_agents.scheduling.interface import Scheduler
from hermes_agents.scheduling.slot import nested_calls

if TYPE_CHECKING:  # openai's request options: a private type, needed for the signatures only
    from openai._models import FinalRequestOptions

__all__ = ["AsyncOpenAI", "OpenAI"]

_R = TypeVar("_R")
_S = TypeVar("_S", bound=openai.Stream[Any])
_AS = TypeVar("_AS", bound=openai.AsyncStream[Any])


class _HermesSettings:
    """The ``hermes_*`` settings both clients take, kept by ``copy`` / ``with_options``."""

    hermes_backend: str
    hermes_scheduler: Scheduler | None
    hermes_priority: PriorityStyle | None

    def __init__(
        self,
        *,
        hermes_backend: str = "llm",
        hermes_scheduler: Scheduler | None = None,
        hermes_priority: PriorityStyle | None = None,
        **kwargs: Any,
    ) -> None:
        """``openai``'s client arguments (``**kwargs``), and the three ``hermes_*`` ones.

        Without a ``base_url``, the backend's ``base_url`` in the Hermes config is used (one
        place for a server's address; ``/v1`` added to a URL with no path), else openai's own
        default (``OPENAI_BASE_URL``). Without ``hermes_priority``, the backend's config says:
        a backend with ``enforce = "engine"`` or ``"both"`` gets its engine's polarity.
        """
        config = (
            find_config() if hermes_priority is None or kwargs.get("base_url") is None else None
        )
        if hermes_priority is None:
            hermes_priority = client_priority(config, hermes_backend)
        _configure(self, hermes_backend, hermes_scheduler, hermes_priority)
        if kwargs.get("base_url") is None:
            configured = client_base_url(config, hermes_backend)
            if configured is not None:
                kwargs["base_url"] = configured
        cast(Any, super()).__init__(**kwargs)

    def copy(
        self,
        *args: Any,
        hermes_backend: str | openai.NotGiven = openai.not_given,
        hermes_scheduler: Scheduler | openai.NotGiven | None = openai.not_given,
        hermes_priority: PriorityStyle | openai.NotGiven | None = openai.not_given,
        **kwargs: Any,
    ) -> Self:
        """openai's ``copy``, keeping (or replacing) the Hermes settings."""
        copied: Self = cast(Any, super()).copy(*args, **kwargs)
        _configure_copy(copied, self, hermes_backend, hermes_scheduler, hermes_priority)
        return copied

    with_options = copy


class OpenAI(_HermesSettings, openai.OpenAI):
    """``openai.OpenAI`` whose model calls wait for a Hermes slot (see the module docstring).

    Attributes:
        hermes_backend: the backend its calls are scheduled on.
        hermes_scheduler: the scheduler, or None for ``get_scheduler()`` at each call.
        hermes_priority: the server's priority convention (``PriorityStyle``), or None to send
            no hint (unless the backend's config enforces its order in the engine).
    """

    @overload
    def request(
        self,
        cast_to: type[_R],
        options: FinalRequestOptions,
        *,
        stream: Literal[True],
        stream_cls: type[_S],
    ) -> _S: ...

    @overload
    def request(
        self,
        cast_to: type[_R],
        options: FinalRequestOptions,
        *,
        stream: Literal[False] = False,
    ) -> _R: ...

    @overload
    def request(
        self,
        cast_to: type[_R],
        options: FinalRequestOptions,
        *,
        stream: bool = False,
        stream_cls: type[_S] | None = None,
    ) -> _R | _S: ...

    def request(
        self,
        cast_to: type[_R],
        options: FinalRequestOptions,
        *,
        stream: bool = False,
        stream_cls: type[_S] | None = None,
    ) -> _R | _S:
        """Send the request as ``openai`` does, inside a slot when it is a model call.

        Every resource method (``create``, ``parse``, ``stream``, their raw and streaming
        forms) ends here, which is why this is the hook.
        """
        call = call_slot(self, options)
        if call is None:
            return super().request(cast_to, options, stream=stream, stream_cls=stream_cls)
        call.enter()
        try:
            with nested_calls(call):
                hinted = with_hint(options, call, self.hermes_priority)
                try:
                    result = super().request(cast_to, hinted, stream=stream, stream_cls=stream_cls)
                except openai.BadRequestError as error:
                    if hinted is options or not refuses_priority(self, error):
                        raise
                    result = super().request(cast_to, options, stream=stream, stream_cls=stream_cls)
                else:
                    if hinted is not options and stream and refused_in_stream(result):
                        refuses_priority(self, PRIORITY_REFUSED)  # vLLM: inside the stream
                        result = super().request(
                            cast_to, options, stream=stream, stream_cls=stream_cls
                        )
        except BaseException as error:
            call.failed(error)  # a 429/503 shrinks an auto window
            call.release()
            raise
        hold(result, call, asynchronous=False)
        return result

    def _process_response_data(
        self, *, data: object, cast_to: type[_R], response: httpx2.Response
    ) -> _R:
        # Every parsed body and stream chunk passes here: note the usage of held streams.
        observe(data, response)
        return super()._process_response_data(data=data, cast_to=cast_to, response=response)


class AsyncOpenAI(_HermesSettings, openai.AsyncOpenAI):
    """``openai.AsyncOpenAI`` whose model calls wait for a Hermes slot (see the module
    docstring); the attributes are those of ``OpenAI``."""

    @overload
    async def request(
        self,
        cast_to: type[_R],
        options: FinalRequestOptions,
        *,
        stream: Literal[False] = False,
    ) -> _R: ...

    @overload
    async def request(
        self,
        cast_to: type[_R],
        options: FinalRequestOptions,
        *,
        stream: Literal[True],
        stream_cls: type[_AS],
    ) -> _AS: ...

    @overload
    async def request(
        self,
        cast_to: type[_R],
        options: FinalRequestOptions,
        *,
        stream: bool,
        stream_cls: type[_AS] | None = None,
    ) -> _R | _AS: ...

    async def request(
        self,
        cast_to: type[_R],
        options: FinalRequestOptions,
        *,
        stream: bool = False,
        stream_cls: type[_AS] | None = None,
    ) -> _R | _AS:
        """Send the request as ``openai`` does, inside a slot when it is a model call."""
        call = call_slot(self, options)
        if call is None:
            return await super().request(cast_to, options, stream=stream, stream_cls=stream_cls)
        await call.aenter()
        try:
            with nested_calls(call):
                hinted = with_hint(options, call, self.hermes_priority)
                try:
                    result = await super().request(
                        cast_to, hinted, stream=stream, stream_cls=stream_cls
                    )
                except openai.BadRequestError as error:
                    if hinted is options or not refuses_priority(self, error):
                        raise
                    result = await super().request(
                        cast_to, options, stream=stream, stream_cls=stream_cls
                    )
                else:
                    if hinted is not options and stream and await arefused_in_stream(result):
                        refuses_priority(self, PRIORITY_REFUSED)  # vLLM: inside the stream
                        result = await super().request(
                            cast_to, options, stream=stream, stream_cls=stream_cls
                        )
        except BaseException as error:
            call.failed(error)  # a 429/503 shrinks an auto window
            call.release()
            raise
        hold(result, call, asynchronous=True)
        return result

    def _process_response_data(
        self, *, data: object, cast_to: type[_R], response: httpx2.Response
    ) -> _R:
        # Every parsed body and stream chunk passes here: note the usage of held streams.
        observe(data, response)
        return super()._process_response_data(data=data, cast_to=cast_to, response=response)


_Client = _HermesSettings


def _mirror_openai(
    client: type[_HermesSettings], base: type[openai.OpenAI | openai.AsyncOpenAI]
) -> None:
    """Give ``client``'s ``__init__``, ``copy`` and ``with_options`` openai's signature and type
    hints plus the ``hermes_*`` parameters, for ``inspect.signature``, ``get_type_hints``, IDEs
    and documentation tools (the code takes them as ``**kwargs``)."""
    for name in ("__init__", "copy"):
        method = _forwarder(getattr(_HermesSettings, name))
        ours = inspect.signature(getattr(_HermesSettings, name)).parameters.values()
        theirs = inspect.signature(getattr(base, name))
        hermes = [p for p in ours if p.name.startswith("hermes_")]
        params = [p for p in theirs.parameters.values() if p.kind is not p.VAR_KEYWORD]
        method.__signature__ = theirs.replace(parameters=[*params, *hermes])  # type: ignore[attr-defined]
        hints = get_type_hints(getattr(base, name))
        method.__annotations__ = {
            **{k: v for k, v in hints.items() if k != "return"},
            **{
                k: v
                for k, v in get_type_hints(getattr(_HermesSettings, name)).items()
                if k.startswith("hermes_")
            },
            "return": hints["return"],
        }
        method.__name__ = name
        method.__qualname__ = f"{client.__name__}.{name}"
        method.__doc__ = getattr(_HermesSettings, name).__doc__
        for alias in ("copy", "with_options") if name == "copy" else (name,):
            setattr(client, alias, method)  # with_options is copy, as in openai


def _forwarder(method: Callable[..., Any]) -> Callable[..., Any]:
    def forward(self: Any, *args: Any, **kwargs: Any) -> Any:
        return method(self, *args, **kwargs)

    return forward


_mirror_openai(OpenAI, openai.OpenAI)
_mirror_openai(AsyncOpenAI, openai.AsyncOpenAI)


def _configure(
    client: _Client, backend: str, scheduler: Scheduler | None, priority: PriorityStyle | None
) -> None:
    if priority is not None and priority not in get_args(PriorityStyle):
        raise ValidationError(
            f"unknown priority style {priority!r}; use 'vllm' or 'lower-first' (lower first), "
            "'sglang' or 'higher-first' (higher first), or None (no hint)",
            "argument 'hermes_priority'",
        )
    if scheduler is None:
        check_environment()  # a bad HERMES_SCHEDULER / HERMES_CONFIG fails here, not later
    client.hermes_backend = backend
    client.hermes_scheduler = scheduler
    client.hermes_priority = priority


def _configure_copy(
    copied: _Client,
    source: _Client,
    backend: str | openai.NotGiven,
    scheduler: Scheduler | openai.NotGiven | None,
    priority: PriorityStyle | openai.NotGiven | None,
) -> None:
    _configure(
        copied,
        source.hermes_backend if isinstance(backend, openai.NotGiven) else backend,
        source.hermes_scheduler if isinstance(scheduler, openai.NotGiven) else scheduler,
        source.hermes_priority if isinstance(priority, openai.NotGiven) else priority,
    )
