#!/usr/bin/env bash
# The harness against the raw HTTP limit of this machine.
#
#   scripts/bench.sh [N] [ROUNDS] [SECONDS] [BIG]
#   (defaults: 100000 generated cases, 3 rounds, 5 s, BIG 1000000; BIG 0 skips the memory run)
#
# Each round, interleaved, at the same concurrency (16 connections):
#   1. wrk sends the valid Retry PUT, with all its headers, to the release mock   -> raw limit
#   2. wrk sends the same to a minimal hyper server (examples/min_server.rs)      -> is the mock the limit?
#   3. cse-contract run --mode random --generated N against the same mock, reports off -> validated cases/s, peak RSS
#   4. the same with the JSON, JUnit and HTML reports written
# Then, once: `list` and the hand-written suite against the embedded mock (medians of 11), and
# the memory run: --generated BIG with every report written -> wall time, peak RSS.
# Printed: medians over the rounds, and harness/raw ratios. Medians, not means: the machine is
# shared and noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
rounds=${2:-3}
secs=${3:-5}
big=${4:-1000000}
if ! command -v wrk > /dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk
fi
cargo build --release --quiet --bin cse-contract --example min_server
bin=target/release/cse-contract
out=$(mktemp -d)
"$bin" mock --listen 127.0.0.1:0 -q > "$out/mock.url" &
pids=($!)
target/release/examples/min_server > "$out/min.url" &
pids+=($!)
trap 'kill "${pids[@]}" 2>/dev/null' EXIT
until [ -s "$out/mock.url" ] && [ -s "$out/min.url" ]; do sleep 0.05; done
mock=$(head -1 "$out/mock.url")
min=$(head -1 "$out/min.url")
# The always-retryable engine, judged without state reads (--no-state below): every Retry is
# accepted at once, as before the mock kept jobs running, so the figures stay comparable.
engine=a1a1a1a1-0000-4000-8000-000000000001
path=/v2/demo-project/enginemgr/engines/$engine/actions
cat > "$out/put.lua" <<'LUA'
wrk.method = "PUT"
wrk.body = '{"action":"Retry"}'
wrk.headers["X-Auth-Token"] = "bench-token"
wrk.headers["Content-Type"] = "application/json;charset=UTF-8"
wrk.headers["Accept"] = "application/json"
LUA
rps() { wrk -t2 -c16 -d"${secs}s" -s "$out/put.lua" "$1$path" | awk '/Requests\/sec/ {print int($2)}'; }
# Wall time (ms) and peak RSS (MiB) of one harness run, measured by a small Python parent.
harness() {
  CSE_AUTH_TOKEN=bench-token python3 - "$bin" "$mock" "$n" "$@" <<'PY'
import os, subprocess, sys, time
binary, url, n, *extra = sys.argv[1:]
args = [binary, "run", "--target", url, "--project-id", "demo-project",
        "--engine-id", "a1a1a1a1-0000-4000-8000-000000000001", "--no-state", "--mode", "random", "--generated", n, "--seed", "1", "-q",
        *extra]
start = time.monotonic()
p = subprocess.Popen(args, stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(p.pid, 0)
if os.waitstatus_to_exitcode(status) != 0:
    print(f"warning: the harness exited {os.waitstatus_to_exitcode(status)}: not every case passed", file=sys.stderr)
print(int((time.monotonic() - start) * 1000), usage.ru_maxrss // 1024)
PY
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
reports=$(mktemp -d)
for r in $(seq "$rounds"); do
  rps "$mock" >> "$out/raw"
  rps "$min" >> "$out/min"
  harness --no-reports >> "$out/off"
  harness --json "$reports/r.json" --junit "$reports/j.xml" --html "$reports/i.html" >> "$out/on"
  echo "round $r done" >&2
done
raw=$(median < "$out/raw"); minimal=$(median < "$out/min")
off_ms=$(cut -d' ' -f1 "$out/off" | median); off_mib=$(cut -d' ' -f2 "$out/off" | median)
on_ms=$(cut -d' ' -f1 "$out/on" | median); on_mib=$(cut -d' ' -f2 "$out/on" | median)
# Start-up figures: the release binary, medians of 11.
ms() { local s; s=$(date +%s%N); "$@" > /dev/null 2>&1 || true; echo $(( ($(date +%s%N) - s) / 1000000 )); }
for _ in $(seq 11); do
  ms "$bin" list >> "$out/list"
  CSE_AUTH_TOKEN=bench-token ms "$bin" run --generated 0 --no-reports -q >> "$out/suite"
done
list_ms=$(median < "$out/list"); suite_ms=$(median < "$out/suite")
if [ "$big" -gt 0 ]; then
  n=$big harness --json "$reports/big.json" --junit "$reports/big.xml" --html "$reports/big.html" > "$out/big"
  rm -f "$reports"/big.*
fi
cases=$((n + 40))
echo
echo "machine: $(nproc) cores, $(uname -m); $(date -u +%Y-%m-%d); $rounds rounds, medians; concurrency 16"
printf '%-44s %s\n' "what" "figure"
printf '%-44s %s\n' "wrk -> release mock (raw limit)" "${raw} req/s"
printf '%-44s %s\n' "wrk -> minimal hyper server" "${minimal} req/s (mock/minimal $(awk -v a="$raw" -v b="$minimal" 'BEGIN {printf "%.2f", a/b}'))"
for mode in off on; do
  ms_=$off_ms; mib=$off_mib; label="harness, reports off"
  [ $mode = on ] && { ms_=$on_ms; mib=$on_mib; label="harness, JSON+JUnit+HTML written"; }
  awk -v c="$cases" -v ms="$ms_" -v mib="$mib" -v raw="$raw" -v label="$label" 'BEGIN {r = c / (ms / 1000); printf "%-44s %d cases/s (%d cases in %d ms), peak %d MiB; harness/raw %.2f\n", label, r, c, ms, mib, r / raw}'
done
range() { sort -n | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%s-%s", lo, hi}'; }
echo "rounds: raw $(range < "$out/raw") req/s; minimal $(range < "$out/min") req/s;" \
  "harness off $(cut -d' ' -f1 "$out/off" | range) ms; on $(cut -d' ' -f1 "$out/on" | range) ms"
printf '%-44s %s\n' "cse-contract list" "${list_ms} ms"
printf '%-44s %s\n' "hand-written suite, embedded mock" "${suite_ms} ms"
if [ "$big" -gt 0 ]; then
  read -r big_ms big_mib < "$out/big"
  printf '%-44s %s\n' "$((big + 40)) cases, every report written" "${big_ms} ms, peak ${big_mib} MiB"
fi
