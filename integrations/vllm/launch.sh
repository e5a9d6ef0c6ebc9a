#!/usr/bin/env bash
# Start vLLM Hermes-ready: sleep mode, runtime LoRA, priority scheduling, prefix caching, metrics.
#
#   ./integrations/vllm/launch.sh MODEL [extra vllm serve flags...]
#   PORT=8001 ./integrations/vllm/launch.sh Qwen/Qwen2.5-0.5B-Instruct --max-model-len 8192
#
# Then point Hermes at it (see README.md) and check it with:
#   python integrations/vllm/conformance.py --base-url http://127.0.0.1:${PORT:-8000}
set -euo pipefail

MODEL="${1:?usage: launch.sh MODEL [extra vllm serve flags...]}"
shift
PORT="${PORT:-8000}"

# /sleep, /wake_up and /is_sleeping exist only in dev mode.
export VLLM_SERVER_DEV_MODE=1
# /v1/load_lora_adapter and /v1/unload_lora_adapter exist only with this.
export VLLM_ALLOW_RUNTIME_LORA_UPDATING=1

exec vllm serve "$MODEL" \
    --host 127.0.0.1 --port "$PORT" \
    --enable-sleep-mode \
    --enable-lora --max-loras 4 --max-lora-rank 64 \
    --enable-prefix-caching \
    --scheduling-policy priority \
    "$@"
