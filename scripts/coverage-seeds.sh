#!/usr/bin/env bash
# How often a default run finds each of the two faults only generated cases can find
# (accept_tab_padded_retry, server_error_on_long_enterprise_project), over SEEDS seeds:
# with the coverage phase (--mode all, the default) and without it (--mode random, the
# behaviour before the coverage phase existed). Each run: a fresh faulted mock, the default
# budget (200 random cases), the hand-written cases skipped by filter so that only generated
# cases can find the fault.
#   scripts/coverage-seeds.sh [SEEDS] [BIN]
set -euo pipefail
seeds=${1:-20}
bin=${2:-target/release/cse-contract}
project=demo-project
engine=4a1bc63d-4719-4bd3-b1ad-5ee590b05e87
for fault in accept_tab_padded_retry server_error_on_long_enterprise_project; do
  for mode in random all; do
    found=0
    for seed in $(seq 1 "$seeds"); do
      out=$(mktemp -d)
      "$bin" mock --listen 127.0.0.1:0 --fault "$fault" >"$out/url" 2>/dev/null &
      pid=$!
      for _ in $(seq 50); do [ -s "$out/url" ] && break; sleep 0.1; done
      url=$(head -n1 "$out/url")
      set +e
      CSE_AUTH_TOKEN=t "$bin" run --target "$url" --project-id "$project" --engine-id "$engine" \
        --mode "$mode" --seed "$seed" --stateful 0 generated:: >"$out/log" 2>&1
      code=$?
      set -e
      kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
      [ "$code" = 1 ] && found=$((found + 1))
      rm -rf "$out"
    done
    echo "$fault --mode $mode: found on $found of $seeds seeds"
  done
done
