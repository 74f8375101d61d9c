#!/usr/bin/env bash
# Installs what greentune needs to build and test on Debian 12 (idempotent: installs only what is missing).
# LibTorch comes from Debian's libtorch-dev (1.13, CPU) unless a LibTorch 2.x is given to CMake through
# CMAKE_PREFIX_PATH or Torch_DIR. OpenBLAS with OpenMP is named explicitly: with the reference BLAS a
# training step is about 35x slower. gnuplot-nox draws the plots of `greentune report` (run as a program,
# not linked). openmpi-bin's mpirun launches data-parallel runs in the tests (greentune does not link MPI).
set -euo pipefail

packages=(
  build-essential cmake pkg-config ninja-build
  libutf8proc-dev nlohmann-json3-dev libcli11-dev libtomlplusplus-dev libfmt-dev libboost-math-dev
  libcurl4-openssl-dev libarchive-dev libssl-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libtorch-dev libopenblas0-openmp libgloo-dev
  gnuplot-nox openmpi-bin
)

# `setup.sh --bench` also installs Debian's PyTorch for Python, which bench/run.sh compares against.
if [ "${1:-}" = "--bench" ]; then
  packages+=(python3-torch)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
