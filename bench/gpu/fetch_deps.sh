#!/usr/bin/env bash
# Gathers here (Debian 12, with apt and the network) what bench/gpu/check.sh needs on a GPU machine that
# has PyTorch, CMake and ninja but no package registry and no network:
#   .gpu-deps/debs/      the Debian -dev packages greentune's CMake needs, and the shared libraries they link
#                        (and those libraries' own dependencies) that a bare image is likely to lack;
#   .gpu-deps/data/      the IMDB tarball and the BERT uncased vocab.txt from the shared dir;
#   .gpu-deps/manifest.json  what was fetched, its size and the newest glibc symbol version the libraries need.
# .gpu-deps/ is ignored by git: hand it to the device machine with run's carry list [".gpu-deps"].
# Usage: bench/gpu/fetch_deps.sh [--shared DIR]   (default: $GREENTUNE_SHARED_DIR, else ../shared)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
shared="${GREENTUNE_SHARED_DIR:-$root/../shared}"
while [ $# -gt 0 ]; do
  case "$1" in
    --shared) shared="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "fetch_deps: unknown argument $1" >&2; exit 2 ;;
  esac
done
deps="$root/.gpu-deps"
multiarch="$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)"
libdir="/usr/lib/$multiarch"

# What greentune's CMakeLists.txt finds (Boost: the headers only, from libboost1.74-dev; libboost-math-dev
# itself only adds Boost.Math's compiled C99/TR1 library, which greentune does not use). pkgconf is fetched in
# case the image has no pkg-config; CMake also finds utf8proc without it.
dev_packages=(
  libutf8proc-dev nlohmann-json3-dev libcli11-dev libtomlplusplus-dev libfmt-dev libboost1.74-dev
  libcurl4-openssl-dev libarchive-dev libssl-dev zlib1g-dev
  libgtest-dev libgmock-dev libgoogle-perftools-dev
  pkgconf pkgconf-bin libpkgconf3
)
# The shared libraries those -dev packages link against; every library they need in turn is added below,
# except the C and C++ runtimes, which the image has (in its own versions).
shared_libs=(libcurl.so.4 libarchive.so.13 libssl.so.3 libcrypto.so.3 libz.so.1 libutf8proc.so.2 libfmt.so.9
             libtomlplusplus.so.3 libtcmalloc_minimal.so.4)
system_packages=" libc6 libstdc++6 libgcc-s1 "

package_of() {  # the Debian package that owns a library file (usrmerge: try /usr/lib and /lib spellings)
  local path="$1" alt
  alt="${path#/usr}"
  dpkg -S "$path" 2>/dev/null | head -n1 | cut -d: -f1 && return 0
  dpkg -S "$alt" 2>/dev/null | head -n1 | cut -d: -f1 && return 0
  dpkg -S "/usr$path" 2>/dev/null | head -n1 | cut -d: -f1
}

runtime_packages=()
declare -A seen=()
for lib in "${shared_libs[@]}"; do
  for path in "$libdir/$lib" $(ldd "$libdir/$lib" | awk '$3 ~ /^\// {print $3}'); do
    real="$(realpath "$path")"
    pkg="$(package_of "$real")"
    [ -n "$pkg" ] || pkg="$(package_of "$path")"
    if [ -z "$pkg" ]; then
      echo "fetch_deps: no package owns $path" >&2
      exit 1
    fi
    case "$system_packages" in *" $pkg "*) continue ;; esac
    if [ -z "${seen[$pkg]:-}" ]; then
      seen[$pkg]=1
      runtime_packages+=("$pkg")
    fi
  done
done

rm -rf "$deps/debs"
mkdir -p "$deps/debs" "$deps/data"
echo "fetch_deps: downloading ${#dev_packages[@]} -dev/tool packages and ${#runtime_packages[@]} runtime libraries"
(cd "$deps/debs" && apt-get download -q "${dev_packages[@]}" "${runtime_packages[@]}" >/dev/null)

# Boost: libboost1.74-dev is 9 MiB of headers, of which greentune includes a few (Boost.Math's students_t,
# Boost.CRC). Keep whole the top-level Boost libraries that the sources including them reach with this g++
# (whole folders, so that another compiler's branches find their headers too) and Boost's CMake files.
boost_deb="$(ls "$deps"/debs/libboost1.74-dev_*.deb)"
tmp="$(mktemp -d)"
dpkg -x "$boost_deb" "$tmp/x"
parts="$(for source in $(grep -rl '#include <boost/' "$root/src"); do
  g++ -std=c++20 -M -I"$root/include" -I"$tmp/x/usr/include" "$source"
done | tr ' \\' '\n\n' | sed -n "s|^$tmp/x/usr/include/boost/\([^/]*\).*|\1|p" | sed 's/\.hpp$//' | sort -u)"
(
  cd "$tmp/x"
  keep=()
  for part in $parts; do
    for candidate in "usr/include/boost/$part" "usr/include/boost/$part.hpp"; do
      if [ -e "$candidate" ]; then keep+=("$candidate"); fi
    done
  done
  tar -cJf "$deps/debs/boost-1.74-headers-subset.tar.xz" "${keep[@]}" \
    "usr/lib/$multiarch/cmake/Boost-1.74.0" "usr/lib/$multiarch/cmake/boost_headers-1.74.0" \
    "usr/lib/$multiarch/cmake/BoostDetectToolset-1.74.0.cmake"
)
rm -rf "$tmp" "$boost_deb"

cp -f "$shared/data/imdb/aclImdb_v1_labeled.tar.gz" "$deps/data/"
cp -f "$shared/data/vocab/bert-base-uncased-vocab.txt" "$deps/data/"

# The newest GLIBC_x.y any fetched library asks for: an image with an older glibc cannot load them.
glibc_needed="$(
  tmp="$(mktemp -d)"
  for deb in "$deps"/debs/*.deb; do dpkg -x "$deb" "$tmp"; done
  find "$tmp" -name '*.so*' -type f -exec objdump -T {} + 2>/dev/null |
    grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -t. -k1,1n -k2,2n -u | tail -n1
  rm -rf "$tmp"
)"

total_bytes="$(du -sb "$deps" | cut -f1)"
{
  printf '{\n  "debian": "%s",\n  "multiarch": "%s",\n  "glibc_needed": "%s",\n  "total_bytes": %s,\n' \
    "$(cat /etc/debian_version)" "$multiarch" "$glibc_needed" "$total_bytes"
  printf '  "debs": [\n'
  first=1
  for deb in "$deps"/debs/*.deb; do
    [ $first -eq 1 ] || printf ',\n'
    first=0
    printf '    "%s"' "$(basename "$deb")"
  done
  printf '\n  ],\n  "data": ["aclImdb_v1_labeled.tar.gz", "bert-base-uncased-vocab.txt"]\n}\n'
} >"$deps/manifest.json"

total_mib=$(( (total_bytes + 1048575) / 1048576 ))
echo "fetch_deps: $(ls "$deps/debs" | wc -l) .debs, data, manifest in $deps: ${total_mib} MiB in all" \
     "(the libraries need glibc >= $glibc_needed)"
if [ "$total_mib" -ge 60 ]; then
  echo "fetch_deps: over the 60 MiB meant for .gpu-deps (run's carry limit is 64 MiB with the working tree)" >&2
  exit 1
fi
echo "fetch_deps: on the GPU machine: run with carry [\".gpu-deps\"] and command: bash bench/gpu/check.sh"
