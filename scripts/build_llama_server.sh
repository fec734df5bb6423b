#!/usr/bin/env bash
# Install llama.cpp's OpenAI-compatible server (llama-cpp-python[server]) into a venv.
# The wheel is compiled once with a portable CPU configuration (the build tuned to the build
# machine's CPU crashes in llama_decode on some CPUs) and cached, so later runs only install.
# Usage: scripts/build_llama_server.sh <venv folder>   (cache: $LISTRANK_WHEEL_CACHE)
set -euo pipefail
VENV="${1:?usage: $0 <venv folder>}"
VERSION=0.3.36
CACHE="${LISTRANK_WHEEL_CACHE:-$HOME/.cache/listrank/wheels}"
WHEEL="$CACHE/llama_cpp_python-$VERSION-py3-none-linux_x86_64.whl"
PY="$VENV/bin/python"
test -x "$PY" || { echo "no python in $VENV" >&2; exit 2; }
if [ ! -f "$WHEEL" ]; then
    echo "building llama-cpp-python $VERSION (about 6 minutes, once)..." >&2
    mkdir -p "$CACHE"
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" \
        "$PY" -m pip wheel -q --disable-pip-version-check --no-deps -w "$tmp" \
        "llama-cpp-python==$VERSION"
    built="$(ls "$tmp"/llama_cpp_python-*.whl | head -n1)"
    mv "$built" "$WHEEL.partial" && mv "$WHEEL.partial" "$WHEEL"
fi
"$PY" -m pip install -q --disable-pip-version-check "$WHEEL[server]"
"$PY" -c "import llama_cpp, llama_cpp.server; print('llama-cpp-python', llama_cpp.__version__)"
