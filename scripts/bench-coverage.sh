#!/usr/bin/env bash
# What the coverage phase costs the default run: `cse-contract run` (embedded mock, coverage
# phase and 200 random cases) against the same run without the coverage phase (--mode random,
# the reference), alternated ROUNDS times on this machine; medians and their ratio.
#   scripts/bench-coverage.sh [ROUNDS] [BIN]
set -euo pipefail
rounds=${1:-11}
bin=${2:-target/release/cse-contract}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_of() {
  local start end
  start=$(date +%s.%N)
  "$bin" run --no-reports -q --seed 7 "$@" >/dev/null 2>&1
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}
ref=() cov=() only=()
for _ in $(seq "$rounds"); do
  ref+=("$(time_of --mode random)")
  cov+=("$(time_of)")
  only+=("$(time_of --mode coverage --skip stateful::)")
done
r=$(printf '%s\n' "${ref[@]}" | median)
c=$(printf '%s\n' "${cov[@]}" | median)
o=$(printf '%s\n' "${only[@]}" | median)
echo "default run without the coverage phase (--mode random, reference): median ${r} s over $rounds rounds"
echo "default run with it:                                                median ${c} s (ratio $(echo "scale=2; $c / $r" | bc))"
echo "the coverage phase alone (--mode coverage --skip stateful::):      median ${o} s"
