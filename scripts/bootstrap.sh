#!/usr/bin/env bash
# Sets up .venv with everything airgap-lsp needs, on a fresh clone, idempotently.
#   scripts/bootstrap.sh          runtime + dev tools
# Every file pip installs is pinned by sha256 and installed with --require-hashes, wheels only
# (--only-binary :all:, so pip never makes an isolated build environment, whose build
# dependencies it would fetch unchecked):
#   requirements-build.lock   pip, setuptools, wheel, llama-cpp-python's build backend
#   requirements.lock         the project's dependencies and dev tools
#   requirements-llama.lock   the llama-cpp-python sdist (downloaded with --require-hashes)
# scripts/lock.py regenerates them from pyproject.toml. llama-cpp-python is compiled from that
# sdist with --no-build-isolation (its backend comes from requirements-build.lock) and CPU
# flags that work on this machine (scripts/cpu_flags.sh, shared with the llama-server build).
# The wheel is cached per flag set under ~/.cache/airgap-lsp/wheels/<tag>/ with its sha256
# recorded at build time (scripts/wheel_cache.py); a cached wheel that no longer matches its
# record is refused and rebuilt, and pip installs it with that hash (--require-hashes).
# Override the flags with AIRGAP_LLAMA_CMAKE_ARGS (e.g. "-DGGML_CUDA=on" or "-DGGML_METAL=on"),
# the wheel cache folder with AIRGAP_WHEEL_CACHE (e.g. an empty one, to check a first build).
# The project itself is installed last, editable, --no-deps (pip cannot hash a local tree).
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
pip_() { "$VPY" -m pip --disable-pip-version-check "$@" >&2; }

say "installing pinned pip, setuptools, wheel and build tools (hash-checked)"
pip_ install --quiet --require-hashes --only-binary :all: -r requirements-build.lock
say "installing the pinned dependencies (hash-checked)"
pip_ install --quiet --require-hashes --only-binary :all: -r requirements.lock

# The cache key is unchanged from before hashes were recorded, so existing caches are reused
# (once verified).
ARGS=$(scripts/cpu_flags.sh)
TAG=$(printf '%s %s' "$LLAMA_VERSION" "$ARGS" | sha256sum | cut -c1-12)
STAMP=$VENV/.llama-build  # "<tag> <sha256 of the wheel installed>"
WHEELS=${AIRGAP_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/airgap-lsp/wheels}/$TAG
REQ=$VENV/.llama-wheel.txt

build_llama() {
  local sdists=$WHEELS.sdist sdist
  rm -rf "$WHEELS.tmp" "$sdists"
  trap 'rm -rf "$WHEELS.tmp" "$WHEELS.sdist"' EXIT  # no half-built leftovers on failure
  mkdir -p "$WHEELS.tmp" "$sdists"
  say "downloading the llama-cpp-python $LLAMA_VERSION sdist (sha256 from requirements-llama.lock)"
  pip_ download --quiet --require-hashes --no-deps --no-binary :all: --no-build-isolation \
    -d "$sdists" -r requirements-llama.lock
  sdist=$sdists/llama_cpp_python-$LLAMA_VERSION.tar.gz
  # pip checked the hash while downloading; check the file that is built, once more.
  grep -qF -- "--hash=sha256:$("$VPY" scripts/wheel_cache.py sha256 "$sdist")" \
    requirements-llama.lock \
    || { say "$sdist does not match requirements-llama.lock"; exit 1; }
  command -v cmake >/dev/null || { say "CMake (>= 3.21) is needed to compile llama.cpp"; exit 1; }
  say "compiling llama-cpp-python $LLAMA_VERSION (4-5 min on 2 cores) with: $ARGS"
  CMAKE_ARGS="$ARGS" CMAKE_BUILD_PARALLEL_LEVEL=$(nproc 2>/dev/null || sysctl -n hw.ncpu) \
    pip_ wheel --no-deps --no-cache-dir --no-build-isolation --check-build-dependencies \
    -w "$WHEELS.tmp" "$sdist"
  "$VPY" scripts/wheel_cache.py record "$WHEELS.tmp" >/dev/null
  rm -rf "$WHEELS" "$sdists"
  mv "$WHEELS.tmp" "$WHEELS"
  trap - EXIT
}

read -r stamp_tag stamp_sha _ 2>/dev/null < "$STAMP" || stamp_tag=
if [ "$stamp_tag" != "$TAG" ] || ! [[ ${stamp_sha:-} =~ ^[0-9a-f]{64}$ ]]; then
  if ! sha=$("$VPY" scripts/wheel_cache.py verify "$WHEELS" --venv "$VENV" --requirement "$REQ" \
      2>"$REQ.why"); then
    if [ -e "$WHEELS" ]; then
      say "not using the cached wheel: $(sed 's/^refused: //' "$REQ.why"); rebuilding it"
    fi
    build_llama
    sha=$("$VPY" scripts/wheel_cache.py verify "$WHEELS" --requirement "$REQ")
  fi
  rm -f "$REQ.why"
  say "installing llama-cpp-python from $WHEELS (hash-checked)"
  pip_ install --quiet --require-hashes --only-binary :all: --no-deps --force-reinstall -r "$REQ"
  echo "$TAG $sha" > "$STAMP"
fi

say "installing airgap-lsp itself (editable, --no-deps)"
pip_ install --quiet --no-deps --no-build-isolation --check-build-dependencies -e .
pip_ check
say "ready: $VENV/bin/airgap-lsp"
