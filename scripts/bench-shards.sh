#!/usr/bin/env bash
# What --partition buys: N generated cases (default 1 000 000) in one process (the reference)
# against the same run split in 4 shards started at once on this machine (each its own embedded
# mock), and each of the 4 shards alone (what 4 machines would take: the slowest shard). The
# three are alternated ROUNDS times; medians and ratios to the reference.
#   scripts/bench-shards.sh [ROUNDS] [CASES] [BIN]
set -euo pipefail
rounds=${1:-3}
cases=${2:-1000000}
bin=${3:-target/release/cse-contract}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }
common=(run --no-reports -q --seed 7 --generated "$cases" --stateful 0)
one() {
  local start
  start=$(now)
  "$bin" "${common[@]}" >/dev/null 2>&1 || true
  echo "$(now) - $start" | bc
}
parallel() {
  local start pids=()
  start=$(now)
  for k in 1 2 3 4; do
    "$bin" "${common[@]}" --partition "hash:$k/4" >/dev/null 2>&1 &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || true; done
  echo "$(now) - $start" | bc
}
# Each shard alone, one after the other: the slowest is what 4 machines would take.
slowest_alone() {
  local slowest=0 start took
  for k in 1 2 3 4; do
    start=$(now)
    "$bin" "${common[@]}" --partition "hash:$k/4" >/dev/null 2>&1 || true
    took=$(echo "$(now) - $start" | bc)
    slowest=$(echo "if ($took > $slowest) $took else $slowest" | bc)
  done
  echo "$slowest"
}
ref=() par=() alone=()
for _ in $(seq "$rounds"); do
  ref+=("$(one)")
  par+=("$(parallel)")
  alone+=("$(slowest_alone)")
done
r=$(printf '%s\n' "${ref[@]}" | median)
p=$(printf '%s\n' "${par[@]}" | median)
a=$(printf '%s\n' "${alone[@]}" | median)
echo "$cases generated cases, $rounds rounds, $(nproc) cores"
echo "one process (reference):                    median ${r} s"
echo "4 shards at once on this machine:           median ${p} s (ratio $(echo "scale=2; $p / $r" | bc))"
echo "slowest of the 4 shards alone (4 machines): median ${a} s (ratio $(echo "scale=2; $a / $r" | bc))"
