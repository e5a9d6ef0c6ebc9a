"""Protocol-faithful fakes of GPU-only servers, to mount like ``httpx.MockTransport``.

Each fake holds the state the real server would (sleeping or awake, loaded LoRAs, released
memory, loaded models, queue gauges) and answers the real routes with the real shapes, status
codes and Prometheus text. Every request is recorded in ``fake.requests``; ``fake.fail_status``
makes every route answer that status (a broken server)::

    fake = FakeVLLM(model="meta-llama/Llama-3.2-1B")
    adapter = VLLMAdapter("http://vllm", transport=fake.transport())
    fake.sleeping = True
    adapter.warm().ok, fake.sleeping          # (True, False)

Sources (the real API documentation and code each fake follows):

- ``FakeVLLM``: https://docs.vllm.ai/en/latest/features/sleep_mode/ (sleep endpoints,
  vllm/entrypoints/serve/dev/sleep/api_router.py), https://docs.vllm.ai/en/latest/features/lora/
  (runtime LoRA, vllm/entrypoints/openai/serving_models.py: messages and status codes),
  vllm/v1/metrics/loggers.py (metric names, labels ``engine`` and ``model_name``); while asleep
  the model endpoints answer 503 ``ModelSleepingError`` (vllm docs/source/features/sleep_mode.md,
  "Protected Endpoints");
- ``FakeSGLang``: https://github.com/sgl-project/sglang/blob/main/docs/advanced_features/sglang_for_rl.md
  and python/sglang/srt/entrypoints/http_server.py (release/resume, ``/generate``),
  python/sglang/srt/managers/scheduler_update_weights_mixin.py (release asserts an idle server;
  resuming what is not released raises in the scheduler: the fake then dies, as the server
  does), docs/references/production_metrics.md (``sglang:*`` gauges);
- ``FakeOllama``: https://github.com/ollama/ollama/blob/main/docs/api.md ("Load a model",
  "Unload a model", "List Running Models", errors as ``{"error": ...}``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from hermes_agents.backends.fake_engine import FakeEngine
from hermes_agents.backends.fake_ollama import FakeOllama, ollama_keep_alive_s
from hermes_agents.backends.fake_stream import completion_stream, stream_error
from hermes_agents.backends.fakebase import FakeServer, Handler, RecordedRequest, openai_error
from hermes_agents.backends.prometheus import Gauge, render_gauges

__all__ = [
    "FakeEngine",
    "FakeOllama",
    "FakeSGLang",
    "FakeServer",
    "FakeVLLM",
    "RecordedRequest",
    "ollama_keep_alive_s",
]


def _completion(model: str, prompt: str) -> dict[str, Any]:
    tokens = max(1, len(prompt.split()))
    choice = {"index": 0, "text": " ok", "logprobs": None, "finish_reason": "length"}
    usage = {"prompt_tokens": tokens, "completion_tokens": 1, "total_tokens": tokens + 1}
    return {
        "id": "cmpl-fake",
        "object": "text_completion",
        "model": model,
        "choices": [choice],
        "usage": usage,
    }


def _chat_completion(model: str, prompt: str) -> dict[str, Any]:
    body = _completion(model, prompt)
    message = {"role": "assistant", "content": "ok"}
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "length"}
    return body | {"id": "chatcmpl-fake", "object": "chat.completion", "choices": [choice]}


@dataclass
class FakeVLLM(FakeServer):
    """vLLM's OpenAI server with sleep mode and runtime LoRA.

    Sources: https://docs.vllm.ai/en/latest/features/sleep_mode/ ,
    https://docs.vllm.ai/en/latest/features/lora/ (dynamically serving LoRA adapters),
    https://github.com/vllm-project/vllm/blob/main/vllm/entrypoints/openai/serving_models.py ,
    https://github.com/vllm-project/vllm/blob/main/vllm/v1/metrics/loggers.py .

    ``dev_mode=False`` removes the sleep endpoints (no ``VLLM_SERVER_DEV_MODE``);
    ``runtime_lora=False`` removes the LoRA endpoints; ``lora_paths``, when given, are the
    adapter paths that exist (others: 404); ``kv_metrics`` are the KV-usage gauge names served
    (current ``vllm:kv_cache_usage_perc``, older ``vllm:gpu_cache_usage_perc``, or both);
    ``engines``: data-parallel engines, one sample each. ``scheduling_policy``: ``fcfs`` (the
    default) answers a request with a nonzero ``priority`` 400, as vLLM does ("Got priority N
    but Priority scheduling is not enabled."); ``priority`` (``--scheduling-policy priority``)
    takes it. ``priorities`` records each completion's priority (0 when absent); the queue
    order itself is ``FakeEngine``'s (``order="lower-first"``). ``"stream": true`` answers
    server-sent events (``fake_stream``), a refused priority then as the stream's error event.
    """

    model: str = "meta-llama/Llama-3.2-1B"
    scheduling_policy: str = "fcfs"
    priorities: list[int] = field(default_factory=list)
    dev_mode: bool = True
    runtime_lora: bool = True
    lora_paths: set[str] | None = None
    kv_metrics: tuple[str, ...] = ("vllm:kv_cache_usage_perc",)
    engines: int = 1
    sleeping: bool = False
    sleep_level: int = 0
    asleep_tags: set[str] = field(default_factory=set)
    loras: dict[str, str] = field(default_factory=dict)
    """Loaded adapters: name -> path."""
    waiting: int = 0
    running: int = 0
    kv_usage: float = 0.0
    preemptions: int = 0
    """``vllm:num_preemptions_total`` (a counter)."""
    engine: FakeEngine | None = None
    """When set, ``/metrics`` reports this engine's batch (``running``, ``waiting``, KV usage
    under load, its preemptions) instead of the four fields above."""
    prompts: list[tuple[str, str]] = field(default_factory=list)
    """(model, prompt) of every completion served (what entered the prefix cache)."""

    def routes(self) -> dict[tuple[str, str], Handler]:
        routes: dict[tuple[str, str], Handler] = {
            ("GET", "/health"): lambda r, b: httpx.Response(200),
            ("GET", "/v1/models"): self._models,
            ("GET", "/metrics"): self._metrics,
            ("POST", "/v1/completions"): self._complete,
            ("POST", "/v1/chat/completions"): self._complete,
        }
        if self.dev_mode:
            routes[("POST", "/sleep")] = self._sleep
            routes[("POST", "/wake_up")] = self._wake_up
            routes[("GET", "/is_sleeping")] = lambda r, b: httpx.Response(
                200, json={"is_sleeping": self.sleeping}
            )
        if self.runtime_lora:
            routes[("POST", "/v1/load_lora_adapter")] = self._load_lora
            routes[("POST", "/v1/unload_lora_adapter")] = self._unload_lora
        return routes

    def _sleep(self, request: httpx.Request, body: Any) -> httpx.Response:
        self.sleep_level = int(request.url.params.get("level", "1"))
        self.sleeping, self.asleep_tags = True, {"weights", "kv_cache"}
        return httpx.Response(200)

    def _wake_up(self, request: httpx.Request, body: Any) -> httpx.Response:
        tags = request.url.params.get_list("tags")
        self.asleep_tags = self.asleep_tags - set(tags) if tags else set()
        self.sleeping = bool(self.asleep_tags)
        return httpx.Response(200)

    def _models(self, request: httpx.Request, body: Any) -> httpx.Response:
        base = {
            "id": self.model,
            "object": "model",
            "owned_by": "vllm",
            "root": self.model,
            "parent": None,
            "max_model_len": 8192,
        }
        cards = [base] + [
            {
                "id": name,
                "object": "model",
                "owned_by": "vllm",
                "root": path,
                "parent": self.model,
                "max_model_len": None,
            }
            for name, path in self.loras.items()
        ]
        return httpx.Response(200, json={"object": "list", "data": cards})

    def _load_lora(self, request: httpx.Request, body: Any) -> httpx.Response:
        name, path = (body or {}).get("lora_name"), (body or {}).get("lora_path")
        if not name or not path:
            message = "Both 'lora_name' and 'lora_path' must be provided."
            return openai_error(400, "InvalidUserInput", message)
        if name in self.loras:
            message = f"The lora adapter '{name}' has already been loaded."
            return openai_error(400, "InvalidUserInput", message)
        if self.lora_paths is not None and path not in self.lora_paths:
            return openai_error(404, "NotFoundError", f"No adapter found for {path}")
        self.loras[name] = path
        return httpx.Response(200, text=f"Success: LoRA adapter '{name}' added successfully.")

    def _unload_lora(self, request: httpx.Request, body: Any) -> httpx.Response:
        name = (body or {}).get("lora_name")
        if name not in self.loras:
            message = f"The lora adapter '{name}' cannot be found."
            return openai_error(404, "NotFoundError", message)
        del self.loras[name]
        return httpx.Response(200, text=f"Success: LoRA adapter '{name}' removed successfully.")

    def _complete(self, request: httpx.Request, body: Any) -> httpx.Response:
        if self.sleeping:
            message = (
                "Model is currently in sleep mode. Please wake it up first with a POST request "
                "to /wake_up"
            )
            return openai_error(503, "ModelSleepingError", message)
        model = (body or {}).get("model")
        if model not in {self.model, *self.loras}:
            return openai_error(404, "NotFoundError", f"The model `{model}` does not exist.")
        priority = (body or {}).get("priority") or 0
        streamed = bool((body or {}).get("stream"))
        if priority != 0 and self.scheduling_policy != "priority":
            message = f"Got priority {priority} but Priority scheduling is not enabled."
            if streamed:  # the engine refuses it inside the stream: a 200 whose event is the error
                return stream_error(message)
            return openai_error(400, "BadRequestError", message)
        self.priorities.append(int(priority))
        prompt = str((body or {}).get("prompt", (body or {}).get("messages", "")))
        self.prompts.append((str(model), prompt))
        chat = request.url.path.endswith("/chat/completions")
        if streamed:
            return completion_stream(str(model), prompt, chat=chat, body=body)
        answer = _chat_completion if chat else _completion
        return httpx.Response(200, json=answer(str(model), prompt))

    def _metrics(self, request: httpx.Request, body: Any) -> httpx.Response:
        gauges: list[Gauge] = []
        batch = self.engine
        running, waiting, kv, preempted = (
            (batch.running, batch.waiting, batch.kv_usage, batch.preemptions)
            if batch is not None
            else (self.running, self.waiting, self.kv_usage, self.preemptions)
        )
        for engine in range(self.engines):
            labels = {"engine": str(engine), "model_name": self.model}
            gauges.append(
                Gauge(
                    "vllm:num_requests_running",
                    "Number of requests in model execution batches.",
                    running,
                    labels,
                )
            )
            gauges.append(
                Gauge(
                    "vllm:num_requests_waiting",
                    "Number of requests waiting to be processed.",
                    waiting,
                    labels,
                )
            )
            for name in self.kv_metrics:
                gauges.append(Gauge(name, "KV-cache usage. 1 means 100 percent usage.", kv, labels))
            gauges.append(
                Gauge(
                    "vllm:num_preemptions_total",
                    "Cumulative number of preemption from the engine.",
                    preempted,
                    labels,
                    "counter",
                )
            )
        gauges.sort(key=lambda g: g.name)  # prometheus_client groups samples by metric
        return httpx.Response(200, text=render_gauges(gauges))


@dataclass
class FakeSGLang(FakeServer):
    """SGLang's server with ``--enable-memory-saver`` and ``--enable-metrics``.

    Sources:
    https://github.com/sgl-project/sglang/blob/main/docs/advanced_features/sglang_for_rl.md ,
    https://github.com/sgl-project/sglang/blob/main/python/sglang/srt/entrypoints/http_server.py ,
    https://github.com/sgl-project/sglang/blob/main/docs/references/production_metrics.md .

    ``released`` holds the released memory regions; ``running``/``queued``/``token_usage``
    are the load gauges. Releasing while requests run, or resuming a region that is not
    released, kills the fake (``crashed``), as the assertion/KeyError kills the real scheduler.
    """

    model: str = "Qwen/Qwen2.5-0.5B-Instruct"
    released: set[str] = field(default_factory=set)
    running: int = 0
    queued: int = 0
    token_usage: float = 0.0
    retracted: int | None = None
    """``sglang:num_retracted_requests_total`` (a counter; None: not served, as older
    servers)."""
    texts: list[str] = field(default_factory=list)
    """Texts of every ``/generate`` served."""
    priorities: list[int | None] = field(default_factory=list)
    """The ``priority`` of every ``/generate`` and ``/v1/chat/completions`` served (None:
    absent). SGLang reads it with ``--enable-priority-scheduling`` and ignores it otherwise;
    the queue order and preemption are ``FakeEngine``'s (``order="higher-first"``,
    ``preempt_threshold=10``)."""

    all_tags: tuple[str, ...] = ("kv_cache", "weights", "cuda_graph")

    def routes(self) -> dict[tuple[str, str], Handler]:
        routes: dict[tuple[str, str], Handler] = {
            ("GET", "/health"): lambda r, b: httpx.Response(200),
            ("GET", "/get_model_info"): lambda r, b: httpx.Response(
                200, json={"model_path": self.model, "is_generation": True}
            ),
            ("POST", "/generate"): self._generate,
            ("POST", "/v1/chat/completions"): self._chat,
            ("GET", "/metrics"): self._metrics,
        }
        for method in ("GET", "POST"):  # both are routed upstream (api_route)
            routes[(method, "/release_memory_occupation")] = self._release
            routes[(method, "/resume_memory_occupation")] = self._resume
        return routes

    def _tags(self, body: Any) -> list[str]:
        return list((body or {}).get("tags") or self.all_tags)

    def _release(self, request: httpx.Request, body: Any) -> httpx.Response:
        if self.running or self.queued:
            self.crashed = True  # "release_memory_occupation should be called only when no ..."
            return httpx.Response(500, text="Internal Server Error")
        self.released |= set(self._tags(body))
        return httpx.Response(200, json=None)

    def _resume(self, request: httpx.Request, body: Any) -> httpx.Response:
        tags = self._tags(body)
        if not set(tags) <= self.released:
            self.crashed = True  # offload_tags.remove(tag): KeyError in the scheduler process
            return httpx.Response(500, text="Internal Server Error")
        self.released -= set(tags)
        return httpx.Response(200, json=None)

    def _chat(self, request: httpx.Request, body: Any) -> httpx.Response:
        if self.released:
            return httpx.Response(500, json={"error": {"message": "GPU memory is released"}})
        self.priorities.append((body or {}).get("priority"))
        model = str((body or {}).get("model", self.model))
        messages = str((body or {}).get("messages", ""))
        return httpx.Response(200, json=_chat_completion(model, messages))

    def _generate(self, request: httpx.Request, body: Any) -> httpx.Response:
        self.priorities.append((body or {}).get("priority"))
        if self.released:
            # Upstream documents no answer for this; the fake refuses rather than pretend.
            return httpx.Response(500, json={"error": {"message": "GPU memory is released"}})
        text = str((body or {}).get("text", ""))
        self.texts.append(text)
        meta = {
            "id": "fake",
            "finish_reason": {"type": "length", "length": 1},
            "prompt_tokens": max(1, len(text.split())),
            "completion_tokens": 1,
        }
        return httpx.Response(200, json={"text": " ok", "meta_info": meta})

    def _metrics(self, request: httpx.Request, body: Any) -> httpx.Response:
        labels = {"model_name": self.model, "tp_rank": "0", "pp_rank": "0"}
        gauges = [
            Gauge(
                "sglang:num_running_reqs", "The number of running requests.", self.running, labels
            ),
            Gauge(
                "sglang:num_queue_reqs",
                "The number of requests in the waiting queue.",
                self.queued,
                labels,
            ),
            Gauge("sglang:token_usage", "The token usage.", self.token_usage, labels),
        ]
        if self.retracted is not None:
            help_text = "Total number of retracted requests due to kv cache limitations."
            gauges.append(
                Gauge(
                    "sglang:num_retracted_requests_total",
                    help_text,
                    self.retracted,
                    labels,
                    "counter",
                )
            )
        return httpx.Response(200, text=render_gauges(gauges))
