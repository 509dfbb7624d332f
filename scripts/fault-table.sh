#!/usr/bin/env bash
# Runs the fault-injection matrix (each fault on each source, against real servers through
# fault proxies) and prints its table: fault × source → what slitop showed, how soon, and how
# long it took to come back once the fault ended.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --workspace --bins
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if cargo test --release --test fault_injection -- --nocapture >"$log" 2>&1; then
    status=0
else
    status=$?
fi
sed -n '/^Fault injection table/p;/^|/p' "$log"
if [ "$status" -ne 0 ]; then
    grep -E "panicked|assertion" -A4 "$log" >&2 || tail -30 "$log" >&2
fi
exit "$status"
