"""The Prometheus text format: what real servers print, parsed; what fakes print, reparsed."""

from __future__ import annotations

import math

from hermes_agents.backends.prometheus import (
    Gauge,
    highest,
    parse_metrics,
    render_gauges,
    total,
)

# Lines as vLLM's prometheus_client writes them (two data-parallel engines), plus oddities.
VLLM_TEXT = """\
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="meta-llama/Llama-3.2-1B"} 3.0
vllm:num_requests_waiting{engine="1",model_name="meta-llama/Llama-3.2-1B"} 2.0
vllm:gpu_cache_usage_perc{engine="0",model_name="m"} 0.25
vllm:gpu_cache_usage_perc{engine="1",model_name="m"} 0.75
vllm:prompt_tokens_total{model_name="with \\"quotes\\", and commas"} 1.2e+03 1712345678000
vllm:odd NaN
llamacpp:requests_processing 1
"""


def test_parse_sums_and_maxes_across_engines() -> None:
    samples = parse_metrics(VLLM_TEXT)
    assert total(samples, "vllm:num_requests_waiting") == 5.0
    assert highest(samples, "vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc") == 0.75
    assert total(samples, "llamacpp:requests_processing") == 1.0
    assert total(samples, "missing") is None


def test_labels_timestamps_and_nan() -> None:
    samples = parse_metrics(VLLM_TEXT)
    (tokens,) = samples["vllm:prompt_tokens_total"]
    assert tokens.value == 1200.0
    assert tokens.labels["model_name"] == 'with "quotes", and commas'
    assert math.isnan(samples["vllm:odd"][0].value)
    assert total(samples, "vllm:odd") is None  # NaN is no number of requests


def test_rendered_gauges_parse_back() -> None:
    text = render_gauges(
        [Gauge("a:b", "help", 2, {"engine": "0"}), Gauge("a:b", "help", 3, {"engine": "1"})]
    )
    assert text.count("# TYPE a:b gauge") == 1
    assert total(parse_metrics(text), "a:b") == 5.0
