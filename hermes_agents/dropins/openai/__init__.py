"""Drop-in ``OpenAI`` and ``AsyncOpenAI`` clients whose model calls wait for a Hermes slot.

>>> from hermes_agents.openai import OpenAI
>>> client = OpenAI(base_url="http://localhost:8000/v1", api_key="-", hermes_priority="vllm")
>>> # reply = client.chat.completions.create(model="m", messages=[...])  # as with openai

They are subclasses of ``openai.OpenAI`` / ``openai.AsyncOpenAI``: same constructor, same
methods, same return values and exceptions. Three keyword-only arguments are added:
``hermes_backend`` (the backend the calls are scheduled on, ``"llm"``), ``hermes_scheduler``
(default: ``get_scheduler()`` at each call) and ``hermes_priority`` (``"vllm"``, ``"sglang"``,
``"lower-first"`` or ``"higher-first"``: send the app's rank as the request's ``priority``,
bucketed by ``hermes_agents.priority.engine_priority``; None: as the backend's config says,
``enforce = "engine"`` or ``"both"`` sending it, else nothing).
``client.with_options(hermes_backend="embeddings")`` gives a copy with other settings.

What is scheduled: every POST to ``/chat/completions``, ``/completions``, ``/embeddings`` and
``/responses``, whatever method sends it (``create``, ``parse``, the ``stream`` helpers,
``with_raw_response``, ``with_streaming_response``), because the hook is the client's
``request``, which every resource method goes through. Other endpoints (files, models, batches,
retrieving or cancelling a response) pass straight through. The slot spans the whole request,
openai's own retries included.

How long the slot is held: until the response is complete. A plain call gives it back when it
returns; a streamed one (``stream=True``, ``with_streaming_response``) when its HTTP response
closes: the stream exhausted, ``close()``, its context manager's exit, or, for a stream dropped
unread, its garbage collection. Usage is read from the response (``usage``, the last stream
chunk that carries one with ``stream_options={"include_usage": True}``, or the Responses API's
``response.completed`` event); the slot reports it with the measured seconds.
"""

from hermes_agents.dropins.openai.clients import AsyncOpenAI, OpenAI
from hermes_agents.dropins.openai.request import SCHEDULED_PATHS, priority_hint
from hermes_agents.priority import PriorityStyle

__all__ = ["SCHEDULED_PATHS", "AsyncOpenAI", "OpenAI", "PriorityStyle", "priority_hint"]
