#!/usr/bin/env bash
# Runs `make test` N times and `make chaos` with M fresh seeds while the
# machine is loaded (stress-ng on one core and a `go build` loop), and
# prints one line per run. Usage: tools/loaded-runs.sh [N] [M]
set -uo pipefail
cd "$(dirname "$0")/.."
tests=${1:-5}
seeds=${2:-10}
logs=${LOGDIR:-$(mktemp -d)}
command -v stress-ng >/dev/null || { apt-get update -qq && apt-get install -y -qq stress-ng >/dev/null; }

stress-ng --cpu 1 --cpu-load 100 --timeout 0 >/dev/null 2>&1 &
stress=$!
( while :; do go build -a -o /dev/null ./cmd/... >/dev/null 2>&1; done ) &
builds=$!
trap 'kill $stress $builds 2>/dev/null; pkill -P $builds 2>/dev/null' EXIT

fail=0
for i in $(seq 1 "$tests"); do
  start=$(date +%s)
  if make test >"$logs/test-$i.log" 2>&1; then r=pass; else r=FAIL; fail=$((fail + 1)); fi
  echo "make test run $i: $r in $(( $(date +%s) - start )) s (log $logs/test-$i.log)"
done
for i in $(seq 1 "$seeds"); do
  seed=$(( (RANDOM << 15 | RANDOM) % 1000000 ))
  start=$(date +%s)
  if CHAOS_SEED=$seed CHAOS_DURATION=2m make chaos >"$logs/chaos-$seed.log" 2>&1; then r=pass; else r=FAIL; fail=$((fail + 1)); fi
  summary=$(grep -E '^\s+total|accept → durable' "$logs/chaos-$seed.log" | tr -s ' ' | tr '\n' ';')
  echo "make chaos seed $seed: $r in $(( $(date +%s) - start )) s; $summary (log $logs/chaos-$seed.log)"
done
echo "$fail failure(s)"
exit $(( fail > 0 ))
