#!/usr/bin/env bash
# One entry point for a fresh machine: installs what is missing (Debian
# packages), builds, then runs the word count, the tests or the benchmark.
#   ./dev.sh wordcount [flags]   the network word count (generator source by default)
#   ./dev.sh test                every test, through CTest
#   ./dev.sh bench [flags]       the word count benchmark
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(g++ cmake make libcaf-dev libcereal-dev libspdlog-dev libboost-test-dev
          libhiredis-dev redis-server libabsl-dev libxxhash-dev)

install_deps() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return
  echo "installing: ${missing[*]}" >&2
  local sudo=""
  [[ $(id -u) -ne 0 ]] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Builds the given targets (default: everything).
build() {
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j"$(nproc)" ${1:+--target "$@"}
}

cmd=${1:-}
shift || true
case "$cmd" in
  wordcount) install_deps; build network_wordcount >/dev/null; exec build/network_wordcount "$@" ;;
  bench)     install_deps; build wordcount_bench >/dev/null; exec build/wordcount_bench "$@" ;;
  test)      install_deps; build; cd build && exec ctest --output-on-failure ;;
  *) echo "usage: ./dev.sh wordcount|test|bench [flags]" >&2; exit 2 ;;
esac
