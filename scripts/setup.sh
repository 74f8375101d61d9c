#!/usr/bin/env bash
# Installs what greentune needs to build and test on Debian 12 (idempotent: installs only what is missing).
# LibTorch comes from Debian's libtorch-dev (1.13, CPU) unless a LibTorch 2.x is given to CMake through
# CMAKE_PREFIX_PATH or Torch_DIR, or python3 imports a pip-installed PyTorch (Colab, Kaggle: Ubuntu), whose
# LibTorch (CUDA included) CMake then uses (torch.utils.cmake_prefix_path): there Debian's libtorch-dev, its
# OpenBLAS and libgloo-dev are not installed. OpenBLAS with OpenMP is named explicitly: with the reference
# BLAS a training step is about 35x slower. libgoogle-perftools-dev gives tcmalloc, the malloc with which a
# CPU training step reuses the previous step's memory instead of faulting in fresh pages. gnuplot-nox draws
# the plots of `greentune report` (run as a program, not linked). openmpi-bin's mpirun launches data-parallel
# runs in the tests (greentune does not link MPI).
set -euo pipefail

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

packages=(
  build-essential cmake pkg-config ninja-build
  libutf8proc-dev nlohmann-json3-dev libcli11-dev libtomlplusplus-dev libfmt-dev libboost-math-dev
  libcurl4-openssl-dev libarchive-dev libssl-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  protobuf-compiler       # the tests decode greentune's TensorBoard files with protoc
  prometheus-pushgateway  # and push to a real Pushgateway
  libgoogle-perftools-dev
  gnuplot-nox openmpi-bin
  iso-codes  # ISO 3166 alpha-3 -> alpha-2: the Electricity Maps zone of --country
)

# A pip-installed PyTorch with LibTorch's CMake files (Debian's python3-torch has none: it uses libtorch-dev).
pip_torch=""
if command -v python3 >/dev/null; then
  torch_prefix="$(python3 -c 'import torch.utils; print(torch.utils.cmake_prefix_path)' 2>/dev/null || true)"
  if [ -n "$torch_prefix" ] && [ -f "$torch_prefix/Torch/TorchConfig.cmake" ]; then
    pip_torch="$(python3 -c 'import torch; print(torch.__version__, "CUDA " + torch.version.cuda if torch.version.cuda else "CPU")')"
  fi
fi
if [ -n "$pip_torch" ]; then
  echo "setup: LibTorch: python3's PyTorch $pip_torch at $torch_prefix (CMake uses it; libtorch-dev not installed)"
else
  packages+=(libtorch-dev libopenblas0-openmp libgloo-dev)
  echo "setup: LibTorch: Debian's libtorch-dev (unless CMake is given Torch_DIR or CMAKE_PREFIX_PATH)"
fi

# Debian's PyTorch for Python (where python3 has none): the example study's external variant
# (configs/demo-external.toml, bench/python/finetune.py) runs with it in the tests, and bench/run.sh compares
# greentune against it.
if [ -z "$pip_torch" ]; then
  packages+=(python3-torch)
fi
# `setup.sh --fuzz`: clang with libFuzzer and the sanitizer runtimes, for `make sanitize` and `make fuzz`.
if [ "${1:-}" = "--fuzz" ]; then
  packages+=(clang libclang-rt-dev)
fi

# toml++ is header-only. Where apt has no libtomlplusplus-dev (we expect Ubuntu 22.04, Colab's and Kaggle's
# image, to lack it; not checked from here: the script asks apt-cache) it is installed from its release with
# its own CMake files (needs git and the network). Ubuntu 22.04's fmt (8.1) and CLI11 (2.1) are older than
# Debian 12's (9.1, 2.3), which greentune is built and tested with.
have_tomlplusplus() {
  [ -f /usr/local/include/toml++/toml.hpp ] || [ -f /usr/local/include/toml++/toml.h ]
}

# nlohmann-json 3.11 or later (greentune's types declare their JSON with its _WITH_DEFAULT macros): Ubuntu
# 22.04's package is 3.10. Where the installed header is older, 3.11.3 (header-only) goes into /usr/local
# from its release (needs git and the network), where CMake finds it first.
# A header-only library's tagged release, built and installed into /usr/local with its own CMake files
# (needs git and the network): install_release REPOSITORY TAG [CMAKE_OPTION ...].
install_release() {
  local repository="$1" tag="$2" src
  shift 2
  command -v git >/dev/null || $SUDO apt-get install -y -qq --no-install-recommends git
  src="$(mktemp -d)"
  git clone -q --depth 1 --branch "$tag" "$repository" "$src/source"
  cmake -S "$src/source" -B "$src/build" -G Ninja "$@" >/dev/null
  $SUDO cmake --install "$src/build" >/dev/null
  rm -rf "$src"
}

nlohmann_minor() {  # of the header CMake finds first; its version macros moved to detail/ in 3.11
  local dir
  for dir in /usr/local/include/nlohmann /usr/include/nlohmann; do
    if [ -f "$dir/json.hpp" ]; then
      cat "$dir/json.hpp" "$dir/detail/abi_macros.hpp" 2>/dev/null |
        sed -n 's/^ *#define NLOHMANN_JSON_VERSION_MINOR \([0-9]*\).*/\1/p' | head -n 1
      return
    fi
  done
}
ensure_nlohmann_json_3_11() {
  local minor
  minor="$(nlohmann_minor)"
  [ -n "$minor" ] && [ "$minor" -lt 11 ] || return 0
  echo "setup: nlohmann-json 3.$minor is older than the 3.11 greentune needs: installing 3.11.3 into /usr/local from GitHub"
  install_release https://github.com/nlohmann/json.git v3.11.3 -DJSON_BuildTests=OFF
}

missing=()
for p in "${packages[@]}"; do
  if [ "$p" = libtomlplusplus-dev ] && have_tomlplusplus; then continue; fi
  [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" == *"install ok installed"* ]] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all packages present"
  ensure_nlohmann_json_3_11
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# Names this distribution does not have (Ubuntu's lists differ from Debian's) are left out, with a message.
available=()
unavailable=()
for p in "${missing[@]}"; do
  # Not `| grep -q`: grep's early exit would make apt-cache die of SIGPIPE, which pipefail turns into "absent".
  if [[ "$(apt-cache show --no-all-versions "$p" 2>/dev/null)" == *"Package: $p"* ]]; then
    available+=("$p")
  else
    unavailable+=("$p")
  fi
done
if [ ${#available[@]} -gt 0 ]; then
  echo "setup: installing ${available[*]}"
  $SUDO apt-get install -y -qq --no-install-recommends "${available[@]}"
fi
for p in "${unavailable[@]}"; do
  if [ "$p" = libtomlplusplus-dev ]; then
    if have_tomlplusplus; then continue; fi
    echo "setup: no libtomlplusplus-dev here: installing toml++ 3.4.0 (header-only) into /usr/local from GitHub"
    install_release https://github.com/marzer/tomlplusplus.git v3.4.0 -DCMAKE_BUILD_TYPE=Release
  else
    echo "setup: warning: this distribution has no package $p; install it another way" >&2
  fi
done

ensure_nlohmann_json_3_11
