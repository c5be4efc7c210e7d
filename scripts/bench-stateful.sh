#!/usr/bin/env bash
# What the stateful phase costs against the release mock: time and requests.
#
#   scripts/bench-stateful.sh [ROUNDS] [SEQUENCES]     (defaults: 5 rounds, 1000 sequences)
#
# Each round, interleaved, against one release mock (its request log counts the requests):
#   1. the reference: the 46 hand-written cases, no stateful case (`--skip stateful::`)
#   2. the default stateful phase: the 6 properties and 3 sequences (`stateful::`)
# Then once each, --stateful SEQUENCES sequences alone (`stateful::sequence::`):
#   3. on the default engine, whose Retry job runs 300 ms (a sequence waits for its jobs to end)
#   4. on the always-retryable engine, whose jobs end at once (the harness's own cost)
# Printed: medians over the rounds, requests per run, and the phase/reference ratio. Medians, not
# means: the machine is shared and noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
sequences=${2:-1000}
cargo build --release --quiet --bin cse-contract
bin=target/release/cse-contract
out=$(mktemp -d)
token=bench-stateful-token
"$bin" mock --listen 127.0.0.1:0 --token "$token" > "$out/mock.url" 2> "$out/mock.log" &
mock=$!
trap 'kill $mock 2>/dev/null || true; rm -rf "$out"' EXIT
for _ in $(seq 50); do [ -s "$out/mock.url" ] && break; sleep 0.1; done
url=$(head -1 "$out/mock.url")
engine=4a1bc63d-4719-4bd3-b1ad-5ee590b05e87
always=a1a1a1a1-0000-4000-8000-000000000001

# run LABEL ENGINE ARGS...: one run; appends "seconds requests" to $out/LABEL
run() {
  local label=$1 id=$2
  shift 2
  local before after start end
  before=$(grep -c ' -> ' "$out/mock.log" || true)
  start=$(date +%s.%N)
  CSE_AUTH_TOKEN=$token "$bin" run --target "$url" --project-id demo-project --engine-id "$id" \
    --not-retryable-engine-id 891bf21a-4024-4f47-b38c-bd259ca8f10a \
    --foreign-engine-id f0e1d2c3-b4a5-4968-8776-655443322110 \
    --generated 0 --no-reports -q --seed 20261130 "$@" > "$out/run.txt" 2>&1 || {
    echo "run failed ($label):"
    cat "$out/run.txt"
    exit 1
  }
  end=$(date +%s.%N)
  after=$(grep -c ' -> ' "$out/mock.log" || true)
  echo "$(echo "$end - $start" | bc) $((after - before))" >> "$out/$label"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for round in $(seq "$rounds"); do
  run reference "$engine" --skip stateful::
  run phase "$engine" stateful:: --stateful 3
  echo "round $round: reference $(tail -1 "$out/reference"), phase $(tail -1 "$out/phase") (s, requests)"
done
run many "$engine" stateful::sequence:: --stateful "$sequences"
run many-instant "$always" stateful::sequence:: --stateful "$sequences"

ref=$(cut -d' ' -f1 "$out/reference" | median)
phase=$(cut -d' ' -f1 "$out/phase" | median)
echo
echo "medians of $rounds rounds:"
echo "  reference, 46 hand-written cases:         ${ref} s, $(cut -d' ' -f2 "$out/reference" | median) requests"
echo "  default stateful phase (6 + 3 sequences): ${phase} s, $(cut -d' ' -f2 "$out/phase" | median) requests"
echo "  phase/reference: $(echo "scale=1; $phase / $ref" | bc)"
echo "once:"
echo "  --stateful $sequences, 300 ms jobs:    $(cut -d' ' -f1 "$out/many") s, $(cut -d' ' -f2 "$out/many") requests"
echo "  --stateful $sequences, instant jobs:   $(cut -d' ' -f1 "$out/many-instant") s, $(cut -d' ' -f2 "$out/many-instant") requests"
