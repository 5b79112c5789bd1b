#!/usr/bin/env bash
# One entry point for a fresh machine: installs what is missing (Debian
# packages), builds, then runs the word count, the tests or the benchmark.
#   ./dev.sh wordcount [flags]   the network word count (generator source by default)
#   ./dev.sh test                every test, through CTest
#   ./dev.sh bench               the benchmarks: socket word count vs the best
#                                single-threaded loop (full speed, paced at 2M
#                                lines/s, 10 ms batches at 1M lines/s; a
#                                million-word vocabulary; short lines), then
#                                the queueStream table, then the engine's fixed
#                                costs (narrow int64 chain, idle pipeline)
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(g++ cmake make libcaf-dev libcereal-dev libspdlog-dev libboost-test-dev
          libhiredis-dev redis-server libabsl-dev libxxhash-dev
          libcaf-openssl0.17 libssl-dev openssl libcli11-dev strace pkg-config
          libcpp-httplib-dev libjs-chart.js chromium)

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
  bench)
    install_deps; build socket_wordcount_bench wordcount_bench engine_overhead_bench network_wordcount >/dev/null
    input=$(mktemp /tmp/tributary-bench-XXXXXX.txt)
    long_input=$(mktemp /tmp/tributary-bench-long-XXXXXX.txt)
    trap 'rm -f "$input" "$long_input"' EXIT
    build/socket_wordcount_bench --role generate --out "$input" --lines 2000000 --seed 1
    build/socket_wordcount_bench --file "$input" --markdown --runs 5 "$@"
    # The same at five times the length (950 MB): start-up and the first
    # interval weigh less, and the receive buffers come round again.
    build/socket_wordcount_bench --role generate --out "$long_input" --lines 10000000 --seed 1
    build/socket_wordcount_bench --file "$long_input" --lines 10000000 --markdown --runs 5 "$@"
    rm -f "$long_input"
    # Other text: a million distinct words drawn uniformly (big tables, keys
    # rarely repeat within a task), 100,000 words (tables bigger than L2,
    # keys that repeat within a batch but less within a 10 ms slot), and
    # short lines of 1-2 words (per-line costs weigh most).
    build/socket_wordcount_bench --lines 2000000 --vocabulary 1000000 --zipf 0 --markdown "$@"
    build/socket_wordcount_bench --lines 2000000 --vocabulary 100000 --markdown "$@"
    build/socket_wordcount_bench --lines 5000000 --line-bytes 16 --markdown "$@"
    build/socket_wordcount_bench --file "$input" --markdown --rate 2000000 "$@"
    build/socket_wordcount_bench --file "$input" --markdown --rate 1000000 --batch-ms 10 "$@"
    build/wordcount_bench --markdown --checkpoints
    build/engine_overhead_bench --markdown
    echo; echo "word count, coordinator and 2 worker processes on this machine against one process (100000 lines per 1 s batch):"
    WORKERS="0 2" bench/cluster_throughput.sh 100000 8 ;;
  test)      install_deps; build; cd build && exec ctest --output-on-failure ;;
  *) echo "usage: ./dev.sh wordcount [flags] | test | bench [socket bench flags]" >&2; exit 2 ;;
esac
