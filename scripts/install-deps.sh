#!/usr/bin/env bash
# Installs the Debian packages lemma needs, and only those that are missing.
# Idempotent: a second run checks with dpkg and returns at once.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev
  clang-14 libclang-rt-14-dev   # libFuzzer for the parser fuzz target
  graphviz                      # lemma dot pictures rendered to SVG
  libonnx-dev libprotobuf-dev protobuf-compiler  # ONNX import and export
  pybind11-dev python3-dev      # the Python binding (python/)
  openmpi-bin                   # mpirun: sharded `lemma generate` runs, and their test
  libz3-dev                     # the verifier's SMT solver
  llvm-14-dev                   # the CPU code generator (LEMMA_LLVM)
  libdnnl-dev                   # oneDNN, the CPU vendor provider (LEMMA_ONEDNN)
)

source "$(dirname "$0")/apt_install_missing.sh"
install_missing install-deps "${packages[@]}"
