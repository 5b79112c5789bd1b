#!/usr/bin/env bash
# Word count throughput with 0 to 3 worker processes on this machine: one
# coordinator (--listen, waiting for all N workers before its first batch)
# and N workers (--join), the replayable generator feeding a fixed number of
# lines per batch. The coordinator runs map tasks itself while it has a free
# core (--coordinator-map-slots, default one per core; MAP_SLOTS=0 in the
# environment sends every task to the workers), the reduce tasks run on the
# workers. Reads the coordinator's per-batch timings (--log-level debug) and
# prints records/s, leaving out the first batch.
#   bench/cluster_throughput.sh [lines-per-batch] [seconds]
# WORKERS="0 2": the worker counts to run (default 0 1 2 3). Each row gives
# its records/s as a ratio to the single-process run (0 workers).
# TLS=1 in the environment: mutual TLS between the nodes (certificates made
# by bench/make-certs.sh in a temporary directory). BIN: another build's
# network_wordcount (to compare two versions of the code). DIRECT=1: the
# workers join CAF's loopback port behind the coordinator's peer gate, to
# measure what the gate costs.
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-100000}
seconds=${2:-8}
bin=${BIN:-build/network_wordcount}
[[ -x $bin ]] || { echo "build first: cmake --build build --target network_wordcount" >&2; exit 2; }
port=$((20000 + RANDOM % 20000))
common=(--lines-per-batch "$lines" --batch-ms 1000 --print 0)
tls_coordinator=()
tls_worker=()
if [[ ${TLS:-0} == 1 ]]; then
  certs=$(mktemp -d)
  trap 'rm -rf "$certs"' EXIT
  bench/make-certs.sh "$certs" coordinator worker 2>/dev/null
  tls_coordinator=(--tls-ca "$certs/ca.pem" --tls-cert "$certs/coordinator.pem" --tls-key "$certs/coordinator.key")
  tls_worker=(--tls-ca "$certs/ca.pem" --tls-cert "$certs/worker.pem" --tls-key "$certs/worker.key")
fi
echo "| workers | records/s | vs one process | batch processing p50 |"
echo "|---:|---:|---:|---:|"
single=""
for workers in ${WORKERS:-0 1 2 3}; do
  log=$(mktemp)
  wait_for=()
  ((workers > 0)) && wait_for=(--min-workers "$workers")
  "$bin" "${common[@]}" --listen "$port" "${wait_for[@]}" "${tls_coordinator[@]}" --duration "$seconds" \
    ${MAP_SLOTS:+--coordinator-map-slots "$MAP_SLOTS"} \
    --log-level debug >/dev/null 2>"$log" &
  coordinator=$!
  join=$port
  if [[ ${DIRECT:-0} == 1 ]]; then
    # "peer gate on port P: ...; CAF behind it on 127.0.0.1:Q"
    for ((i = 0; i < 100; i++)); do
      join=$(grep -o 'CAF behind it on 127.0.0.1:[0-9]*' "$log" | cut -d: -f2) && [[ -n $join ]] && break
      sleep 0.1
    done
  fi
  for ((i = 0; i < workers; i++)); do
    "$bin" "${common[@]}" --join "127.0.0.1:$join" "${tls_worker[@]}" >/dev/null 2>&1 &
  done
  wait "$coordinator"
  wait
  # "batch T: N records, processing P ms, ..." -> records/s over non-empty batches, p50 processing.
  # The first one is a warm-up (fresh processes fault their memory in and
  # open their connections: up to 0.9 s on this machine) and is left out.
  stats=$(grep -o 'batch [0-9]*: [0-9]* records, processing [0-9.]* ms' "$log" | awk '$3 > 0 { print $3, $6 }' | tail -n +2)
  rate=$(awk '{ r += $1; p += $2 } END { printf "%.0f", (p > 0 ? r / p * 1000 : 0) }' <<<"$stats")
  median=$(awk '{ print $2 }' <<<"$stats" | sort -n | awk '{ v[NR] = $1 } END { printf "%.0f", v[int((NR + 1) / 2)] }')
  ((workers == 0)) && single=$rate
  ratio=$(awk -v r="$rate" -v s="$single" 'BEGIN { if (s > 0) printf "%.2fx", r / s; else printf "-" }')
  echo "| $workers | $rate | $ratio | $median ms |"
  rm -f "$log"
  port=$((port + 1))
done
