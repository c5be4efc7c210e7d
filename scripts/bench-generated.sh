#!/usr/bin/env bash
# Generated requests per second against the release mock, on this machine.
#
#   scripts/bench-generated.sh [N] [ROUNDS]      (defaults: 20000 cases, 5 rounds)
#
# Each round times, interleaved, `run --generated N` and the reference `run --generated 0`
# (start-up, contract, the 40 hand-written cases) against one release mock on loopback;
# generated requests per second = N / (median(with) - median(reference)). Medians, not means:
# the machine is shared and noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20000}
rounds=${2:-5}
cargo build --release --quiet
bin=target/release/cse-contract
out=$(mktemp -d)
"$bin" mock --listen 127.0.0.1:0 -q > "$out/url" &
mock=$!
trap 'kill $mock 2>/dev/null' EXIT
until [ -s "$out/url" ]; do sleep 0.05; done
url=$(head -1 "$out/url")
export CSE_AUTH_TOKEN=bench-token
common=(run --target "$url" --project-id demo-project --engine-id 4a1bc63d-4719-4bd3-b1ad-5ee590b05e87 --no-reports -q --seed 1)
ms() { local s=$(date +%s%N); "$@" > /dev/null; echo $(( ($(date +%s%N) - s) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
for r in $(seq "$rounds"); do
  ms "$bin" "${common[@]}" --generated 0 >> "$out/ref"
  ms "$bin" "${common[@]}" --generated "$n" >> "$out/gen"
done
ref=$(median < "$out/ref")
gen=$(median < "$out/gen")
echo "machine: $(nproc) cores, $(uname -m); $(date -u +%Y-%m-%d)"
echo "reference (--generated 0):  median ${ref} ms over $rounds rounds"
echo "with --generated $n:        median ${gen} ms over $rounds rounds ($(awk -v g="$gen" -v r="$ref" 'BEGIN {printf "%.1f", g/r}')x the reference)"
awk -v n="$n" -v g="$gen" -v r="$ref" 'BEGIN {printf "generated requests per second: %d\n", n / ((g - r) / 1000)}'
