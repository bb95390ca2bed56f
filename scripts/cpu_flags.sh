#!/usr/bin/env bash
# Prints the CMake flags llama.cpp is compiled with on this machine: one choice for the
# in-process llama-cpp-python wheel (scripts/bootstrap.sh) and for llama-server
# (benchmarks/llama_server.py), so both run the same kernels. The default native build
# segfaults in ggml's AMX kernel on some x86 CPUs, so the x86 flags are listed one by one from
# /proc/cpuinfo. AIRGAP_LLAMA_CMAKE_ARGS overrides the choice (e.g. "-DGGML_CUDA=on").
set -euo pipefail
if [ -n "${AIRGAP_LLAMA_CMAKE_ARGS:-}" ]; then echo "$AIRGAP_LLAMA_CMAKE_ARGS"; exit 0; fi
case "$(uname -s)-$(uname -m)" in
  Darwin-*) echo "-DGGML_METAL=on" ;;
  Linux-x86_64)
    flags=$(grep -m1 '^flags' /proc/cpuinfo || true)
    a="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
    # AVX-512 without AMX: measured ~1.4-1.5x faster prompt evaluation than AVX2 here.
    if grep -qw avx512f <<<"$flags" && grep -qw avx512bw <<<"$flags"; then
      a="$a -DGGML_AVX512=ON"
      grep -qw avx512vbmi <<<"$flags" && a="$a -DGGML_AVX512_VBMI=ON"
      grep -qw avx512_vnni <<<"$flags" && a="$a -DGGML_AVX512_VNNI=ON"
      grep -qw avx512_bf16 <<<"$flags" && a="$a -DGGML_AVX512_BF16=ON"
    fi
    grep -qw avx_vnni <<<"$flags" && a="$a -DGGML_AVX_VNNI=ON"
    echo "$a" ;;
  *) echo "-DGGML_NATIVE=OFF" ;;
esac
