"""``auto`` finds a REAL llama.cpp server's slots (xllamacpp, SmolLM2) and follows a restart
with another slot count, through the in-process scheduler's own poller thread."""

from __future__ import annotations

from pathlib import Path

import pytest

from hermes_agents.config import parse_config
from hermes_agents.local import LlamaServer
from hermes_agents.scheduling.default import scheduler_from_config
from tests.waiting import wait_for

pytestmark = pytest.mark.slow


def test_auto_finds_the_slots_and_follows_a_restart(model_path: Path) -> None:
    server = LlamaServer(model_path, slots=3, ctx_tokens=512).start()
    try:
        url, port = server.url, int(server.url.rsplit(":", 1)[1])
        config = parse_config(
            {
                "backends": {
                    "llm": {
                        "kind": "llm",
                        "base_url": url,
                        "adapter": "llamacpp",
                        "auto": {"poll_s": 0.2},
                    }
                }
            }
        )
        assert config.backends["llm"].max_concurrency == "auto"
        scheduler = scheduler_from_config(config)
        try:
            state = scheduler.core.backends["llm"]
            wait_for(lambda: state.limits.max_concurrency == 3, 30.0, poll_s=0.05)
            assert state.capacity_reason == "auto (slots): the server has 3 slots"
            held = [scheduler.slot("llm", timeout=5).enter() for _ in range(3)]  # all three
            for slot in held:
                slot.release()
            server.stop()  # restarted with two slots at the same address
            server = LlamaServer(model_path, slots=2, ctx_tokens=512, port=port).start()
            wait_for(lambda: state.limits.max_concurrency == 2, 30.0, poll_s=0.05)
            assert state.capacity_reason == "auto (slots): the server has 2 slots"
        finally:
            scheduler.close()
    finally:
        server.stop()
