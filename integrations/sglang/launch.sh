#!/usr/bin/env bash
# Start SGLang Hermes-ready: memory saver (release/resume), metrics, priority scheduling.
#
#   ./integrations/sglang/launch.sh MODEL [extra sglang.launch_server flags...]
#   PORT=30001 ./integrations/sglang/launch.sh Qwen/Qwen2.5-0.5B-Instruct
#
# Then check it with:
#   python integrations/sglang/conformance.py --base-url http://127.0.0.1:${PORT:-30000}
set -euo pipefail

MODEL="${1:?usage: launch.sh MODEL [extra sglang flags...]}"
shift
PORT="${PORT:-30000}"

# --enable-memory-saver: /release_memory_occupation and /resume_memory_occupation free GPU
#   memory for real (torch_memory_saver); without it they change nothing.
# --enable-metrics: /metrics with sglang:num_running_reqs, sglang:num_queue_reqs, token_usage.
# --enable-priority-scheduling: honour the request's "priority" (higher first by default;
#   add --schedule-low-priority-values-first to match vLLM's lower-first convention).
exec python -m sglang.launch_server \
    --model-path "$MODEL" \
    --host 127.0.0.1 --port "$PORT" \
    --enable-memory-saver \
    --enable-metrics \
    --enable-priority-scheduling \
    "$@"
