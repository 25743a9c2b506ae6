#!/usr/bin/env bash
# Installs what the benchmarks need beyond `make deps`, and only if missing:
# Debian's CPU build of PyTorch (python3-torch, for Debian's /usr/bin/python3),
# the PyTorch baseline of lemma_cpu_bench (bench/torch_latency.py), with
# OpenBLAS as the system BLAS: Debian's torch calls libblas.so.3 for matmuls,
# and the reference BLAS it otherwise gets is ~15x slower (a 1024^3 matmul on
# 2 threads: 730 ms against 45 ms). The tests never need them. Idempotent: a
# second run checks with dpkg and returns at once.
set -euo pipefail

packages=(
  python3-torch        # bench/torch_latency.py: PyTorch on the CPU (not PyPI's CUDA wheels)
  libopenblas0-openmp  # its BLAS; the OpenMP build follows torch.set_num_threads
)

source "$(dirname "$0")/apt_install_missing.sh"
install_missing install-bench-deps "${packages[@]}"
