"""How ``HermesChatModel`` stands in for the model it wraps: its configuration read through
the wrapper (``inner_attribute``), and the chat models inside a runnable tree (a
``bind_tools`` or ``with_structured_output`` result) replaced by wrappers (``rebind_models``),
so their calls stay scheduled."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable
from pydantic import BaseModel

if TYPE_CHECKING:
    from hermes_agents.dropins.langchain import HermesChatModel

MAX_DEPTH = 32
"""How deep a runnable tree is searched for chat models."""


def rebind_models(value: object, wrapper: HermesChatModel, depth: int) -> tuple[object, bool]:
    """Replace the chat models in a runnable tree (bindings, sequences, maps, fallbacks) by
    wrappers; returns the new value and whether anything was replaced."""
    if value is wrapper.inner:
        return wrapper, True
    if _is_wrapper(value) or depth >= MAX_DEPTH:
        return value, False
    if isinstance(value, BaseChatModel):  # a configured copy of the inner model
        return wrapper.model_copy(update={"inner": value}), True
    if isinstance(value, list | tuple):
        pairs = [rebind_models(item, wrapper, depth + 1) for item in value]
        if any(found for _, found in pairs):
            return type(value)(item for item, _ in pairs), True
    elif isinstance(value, dict):
        entries = {key: rebind_models(item, wrapper, depth + 1) for key, item in value.items()}
        if any(found for _, found in entries.values()):
            return {key: item for key, (item, _) in entries.items()}, True
    elif isinstance(value, Runnable) and isinstance(value, BaseModel):
        updates = {}
        for name in type(value).model_fields:
            new, found = rebind_models(getattr(value, name), wrapper, depth + 1)
            if found:
                updates[name] = new
        if updates:
            return value.model_copy(update=updates), True
    return value, False


def inner_attribute(wrapper: HermesChatModel, name: str) -> Any:
    """The inner model's field or property ``name`` (``model_name``, ``model``, ``temperature``,
    ``openai_api_base``...), read through the wrapper.

    Only configuration is forwarded: private names, fields the inner model excludes from
    serialisation (its SDK clients) and methods are not, since calls through them would escape
    the scheduler; use ``wrapper.inner`` for those."""
    inner = wrapper.__dict__.get("inner")
    kind: type[Any] = type(inner)
    field = kind.model_fields.get(name) if isinstance(inner, BaseModel) else None
    readable = (field is not None and not field.exclude) or isinstance(
        inspect.getattr_static(kind, name, None), property
    )
    if not isinstance(inner, BaseChatModel) or name.startswith("_") or not readable:
        raise AttributeError(f"{type(wrapper).__name__!r} object has no attribute {name!r}")
    return getattr(inner, name)


def _is_wrapper(value: object) -> bool:
    from hermes_agents.dropins.langchain import HermesChatModel

    return isinstance(value, HermesChatModel)
