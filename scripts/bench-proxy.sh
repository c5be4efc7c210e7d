#!/usr/bin/env bash
# What the validation proxy costs: the same load against the mock directly (the reference) and
# through `cse-contract proxy` (judging every exchange, writing its report fragments), alternated
# ROUNDS times on this machine; medians and their ratios to the direct calls of the same run.
#   - throughput: wrk, 2 threads, 32 connections, SECONDS s of valid Retries (requests/s);
#   - latency: wrk, 1 connection, SECONDS s of the same Retries, one at a time (median and p99);
#   - the suite's mix: `cse-contract run --mode random --generated 2000` as the load (wall time).
# Needs wrk (`apt-get install -y wrk`) for the first two; the third runs without it.
#   scripts/bench-proxy.sh [ROUNDS] [SECONDS] [BIN]
set -euo pipefail
rounds=${1:-5}
seconds=${2:-3}
bin=${3:-target/release/cse-contract}
token=bench-token-0123456789
engine=a1a1a1a1-0000-4000-8000-000000000001
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { echo "scale=2; $1 / $2" | bc; }
now() { date +%s.%N; }

# Starts `$bin ARGS`, its first line (its URL) into $url.
start() {
  local out="$work/out.$RANDOM"
  "$bin" "$@" >"$out" 2>/dev/null &
  pids+=($!)
  until [ -s "$out" ]; do sleep 0.05; done
  url=$(head -1 "$out")
}
start mock --listen 127.0.0.1:0 -q --token "$token"
mock=$url
start proxy --upstream "$mock" --listen 127.0.0.1:0 -q --json "$work/r/report.json" \
  --junit "$work/r/junit.xml" --html "$work/r/index.html"
proxy=$url

cat >"$work/retry.lua" <<EOF
wrk.method = "PUT"
wrk.path = "/v2/demo-project/enginemgr/engines/$engine/actions"
wrk.body = '{"action":"Retry"}'
wrk.headers["X-Auth-Token"] = "$token"
wrk.headers["Content-Type"] = "application/json;charset=UTF-8"
wrk.headers["Accept"] = "application/json"
done = function(summary, latency, requests)
  io.write(string.format("result %d %.0f %.0f %d %d\n", summary.requests, latency:percentile(50),
    latency:percentile(99), summary.errors.status, summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout))
end
EOF

# wrk against $1 with $2 threads and $3 connections: "requests/s p50_us p99_us", non-2xx checked.
load() {
  local line
  line=$(wrk -t "$2" -c "$3" -d "${seconds}s" -s "$work/retry.lua" "$1" | grep '^result')
  read -r _ requests p50 p99 bad failed <<<"$line"
  if [ "$bad" -ne 0 ] || [ "$failed" -ne 0 ]; then
    echo "wrk against $1: $bad answers not 2xx, $failed socket errors" >&2
    exit 1
  fi
  echo "$(echo "scale=1; $requests / $seconds" | bc) $p50 $p99"
}

suite() {
  local start
  start=$(now)
  CSE_AUTH_TOKEN=$token "$bin" run --target "$1" --project-id demo-project --engine-id "$engine" \
    --mode random --generated 2000 --stateful 0 --seed 7 --no-reports -q >/dev/null 2>&1
  echo "$(now) - $start" | bc
}

d_rps=() p_rps=() d_p50=() p_p50=() d_p99=() p_p99=() d_suite=() p_suite=()
for _ in $(seq "$rounds"); do
  if command -v wrk >/dev/null; then
    read -r rps _ _ <<<"$(load "$mock" 2 32)"; d_rps+=("$rps")
    read -r rps _ _ <<<"$(load "$proxy" 2 32)"; p_rps+=("$rps")
    read -r _ p50 p99 <<<"$(load "$mock" 1 1)"; d_p50+=("$p50"); d_p99+=("$p99")
    read -r _ p50 p99 <<<"$(load "$proxy" 1 1)"; p_p50+=("$p50"); p_p99+=("$p99")
  fi
  d_suite+=("$(suite "$mock")")
  p_suite+=("$(suite "$proxy")")
done

echo "over $rounds alternated rounds, medians ($(nproc) cores shared by the load, the proxy and the mock):"
if [ "${#d_rps[@]}" -gt 0 ]; then
  dr=$(printf '%s\n' "${d_rps[@]}" | median) pr=$(printf '%s\n' "${p_rps[@]}" | median)
  d5=$(printf '%s\n' "${d_p50[@]}" | median) p5=$(printf '%s\n' "${p_p50[@]}" | median)
  d9=$(printf '%s\n' "${d_p99[@]}" | median) p9=$(printf '%s\n' "${p_p99[@]}" | median)
  echo "throughput, 32 connections: direct ${dr} req/s, through the proxy ${pr} req/s (ratio $(ratio "$pr" "$dr"))"
  echo "latency, 1 connection:      direct p50 ${d5} us p99 ${d9} us; through the proxy p50 ${p5} us p99 ${p9} us"
  echo "                            added p50 $(echo "$p5 - $d5" | bc) us (ratio $(ratio "$p5" "$d5")), p99 ratio $(ratio "$p9" "$d9")"
else
  echo "(wrk not installed: throughput and latency not measured; apt-get install -y wrk)"
fi
ds=$(printf '%s\n' "${d_suite[@]}" | median) ps=$(printf '%s\n' "${p_suite[@]}" | median)
echo "the suite's mix (run --mode random --generated 2000): direct ${ds} s, through the proxy ${ps} s (ratio $(ratio "$ps" "$ds"))"
kill -TERM "${pids[1]}" && wait "${pids[1]}" 2>/dev/null || true
echo "the proxy judged $(python3 -c "import json,sys; s=json.load(open(sys.argv[1]))['summary']; print(s['total'], 'exchanges,', s['passed'], 'passed,', s['failed'], 'failed')" "$work/r/report.json")"
