#!/usr/bin/env bash
# The whole test suite: lint, format check, type check, the llama-server build (once), then
# pytest (unit, end-to-end with the real default models and a real llama-server, editors).
# Assumes scripts/bootstrap.sh and `airgap-lsp models fetch` ran (`make test` does both).
set -uo pipefail
cd "$(dirname "$0")/.."
V=.venv/bin
status=0
step() { printf '\033[1m[test]\033[0m %s\n' "$*" >&2; }

step "ruff check";        $V/ruff check . || status=1
step "ruff format";       $V/ruff format --check . || status=1
step "mypy";              $V/mypy || status=1
# The remote-engine tests run against a real llama-server, built once from the llama.cpp that
# llama-cpp-python vendors, with this machine's CPU flags (about 9 minutes on 2 cores).
step "llama-server";      $V/python -m benchmarks.llama_server build >/dev/null || status=1
step "pytest"
$V/python -m pytest -q -rs "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  rc=1
fi
[ "$rc" -ne 0 ] && status=$rc
exit $status
