#!/usr/bin/env bash
# Whole-process cost of the agent binary in --standalone mode against fixture trees on tmpfs: peak resident
# memory and CPU time with 0 containers (baseline, same run) and with 330, sampling every 100 ms for 20 s.
# Usage: node-agent/bench-rss.sh [SECONDS] [CONTAINERS]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${1:-20}
CONTAINERS=${2:-330}
INTERVAL_MS=100
# auto re-opens files on tmpfs; FILE_MODE=keep-open measures what a real cgroup2 mount gets.
FILE_MODE=${FILE_MODE:-auto}
cargo build --release --locked -q -p tailor-node-agent --bin tailor-node-agent --example fixture_tree
bin=target/release/tailor-node-agent
work=$(mktemp -d -p /dev/shm tailor-rss-XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$work"' EXIT
target/release/examples/fixture_tree "$work/empty" 0 >/dev/null
target/release/examples/fixture_tree "$work/full" "$CONTAINERS" >/dev/null

run() { # name tree
  local out="$work/$1.time"
  /usr/bin/time -v timeout -s TERM "$SECONDS_TO_RUN" "$bin" --standalone --cgroup-root "$2" \
    --admin-addr 127.0.0.1:0 --sample-interval-ms "$INTERVAL_MS" --file-mode "$FILE_MODE" --log-format text >/dev/null 2>"$out" || true
  local rss user sys
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out")
  user=$(awk -F': ' '/User time/ {print $2}' "$out")
  sys=$(awk -F': ' '/System time/ {print $2}' "$out")
  echo "$1 $rss $user $sys"
}
read -r _ rss0 u0 s0 < <(run empty "$work/empty")
read -r _ rss1 u1 s1 < <(run full "$work/full")
sweeps=$(( SECONDS_TO_RUN * 1000 / INTERVAL_MS ))
# Standalone mode samples every container-like cgroup, the pods' sandboxes included (one per two containers).
sampled=$(( CONTAINERS + (CONTAINERS + 1) / 2 ))
awk -v r0="$rss0" -v r1="$rss1" -v u0="$u0" -v s0="$s0" -v u1="$u1" -v s1="$s1" -v n="$CONTAINERS" -v m="$sampled" -v k="$sweeps" 'BEGIN {
  printf "peak RSS: %.1f MiB with %d containers, %.1f MiB with 0 (baseline): %.1f KiB per container\n", r1/1024, n, r0/1024, (r1-r0)/n
  cpu0 = u0 + s0; cpu1 = u1 + s1
  printf "CPU: %.2f s with %d containers, %.2f s with 0, over ~%d sweeps: %.1f us per sampled cgroup per sample (%d cgroups incl. sandboxes; process total, incl. runtime, discovery and metrics)\n", cpu1, n, cpu0, k, (cpu1-cpu0)*1e6/(m*k), m
}'
