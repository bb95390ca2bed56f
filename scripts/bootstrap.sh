#!/usr/bin/env bash
# Sets up .venv with everything airgap-lsp needs, on a fresh clone, idempotently.
#   scripts/bootstrap.sh          runtime + dev tools
# llama-cpp-python is compiled from source with CPU flags that work on this machine
# (scripts/cpu_flags.sh, shared with the llama-server build); the wheel is cached per
# flag set under ~/.cache/airgap-lsp/wheels so later set-ups reuse it. Override the flags with
# AIRGAP_LLAMA_CMAKE_ARGS (e.g. "-DGGML_CUDA=on" or "-DGGML_METAL=on").
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python3}
VENV=$ROOT/.venv
LLAMA_VERSION=0.3.36

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || { say "Python >= 3.11 is required ($PY is $("$PY" -V 2>&1))"; exit 1; }

if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV"
  "$PY" -m venv "$VENV"
fi
VPY=$VENV/bin/python
"$VPY" -m pip install --quiet --disable-pip-version-check --upgrade pip wheel setuptools >&2

ARGS=$(scripts/cpu_flags.sh)
TAG=$(printf '%s %s' "$LLAMA_VERSION" "$ARGS" | sha256sum | cut -c1-12)
STAMP=$VENV/.llama-build
if [ "$(cat "$STAMP" 2>/dev/null)" != "$TAG" ]; then
  WHEELS=${XDG_CACHE_HOME:-$HOME/.cache}/airgap-lsp/wheels/$TAG
  if ! ls "$WHEELS"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    say "compiling llama-cpp-python $LLAMA_VERSION (4-5 min on 2 cores) with: $ARGS"
    mkdir -p "$WHEELS.tmp"
    CMAKE_ARGS="$ARGS" CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) "$VPY" -m pip wheel --no-deps \
      --no-cache-dir --disable-pip-version-check --no-binary llama-cpp-python \
      -w "$WHEELS.tmp" "llama-cpp-python==$LLAMA_VERSION" >&2
    rm -rf "$WHEELS"; mv "$WHEELS.tmp" "$WHEELS"
  fi
  "$VPY" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps \
    "$WHEELS"/llama_cpp_python-*.whl >&2
  echo "$TAG" > "$STAMP"
fi

say "installing airgap-lsp and its pinned dependencies"
"$VPY" -m pip install --quiet --disable-pip-version-check -c requirements.lock -e ".[dev]" >&2
say "ready: $VENV/bin/airgap-lsp"
