#!/usr/bin/env bash
# Exposition parse throughput, side by side on the same ~6 MB, ~50k-series file:
# slitop's parser, Python prometheus_client's parser, `promtool check metrics` (whole process)
# and `wc -l` as the floor. Needs what scripts/install-deps.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
f="$work/bench.prom"
cargo build --release --quiet --example gen_exposition --example parse_file
target/release/examples/gen_exposition "$f" "${COUNTERS:-30000}" "${HISTOGRAMS:-1500}"
bytes=$(stat -c %s "$f")
series=$(grep -vc '^#' "$f")
printf 'file: %.2f MB, %d series\n\n' "$(awk "BEGIN { print $bytes/1000000 }")" "$series"

calc() { awk "BEGIN { print $1 }"; }

# Median wall time of a command over N runs, in seconds.
median() {
  local n=$1; shift
  local ts=()
  for _ in $(seq "$n"); do
    local s e
    s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N)
    ts+=("$(calc "$e - $s")")
  done
  printf '%s\n' "${ts[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

ours=$(target/release/examples/parse_file "$f" 15 | awk '{print $1}')
# As a scrape parses: keeping only the names signals read (here 2 of the 4 names, 3k of 51k lines).
ours_kept=$(target/release/examples/parse_file "$f" 15 http_request_duration_seconds_sum,http_request_duration_seconds_count | awk '{print $1}')
py=$(python3 - "$f" <<'PY'
import sys, time
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
best = []
for _ in range(3):
    t = time.perf_counter()
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            pass
    best.append(time.perf_counter() - t)
best.sort()
print(len(text.encode()) / 1e6 / best[1])
PY
)
promtool_s=$(median 5 sh -c "promtool check metrics < '$f'")
wc_s=$(median 5 wc -l "$f")
mbs() { calc "$bytes / 1000000 / $1"; }
promtool=$(mbs "$promtool_s")
wc=$(mbs "$wc_s")
printf '%-42s %10s %12s\n' "parser" "MB/s" "slitop is"
printf '%-42s %10.1f %12s\n' "slitop exposition::parse" "$ours" "-"
printf '%-42s %10.1f %12s\n' "slitop parse_only (3k of 51k lines kept)" "$ours_kept" "-"
printf '%-42s %10.1f %11.1fx\n' "python prometheus_client (parser only)" "$py" "$(calc "$ours/$py")"
printf '%-42s %10.1f %11.1fx\n' "promtool check metrics (whole process)" "$promtool" "$(calc "$ours/$promtool")"
printf '%-42s %10.1f %11.2fx\n' "wc -l (floor, whole process)" "$wc" "$(calc "$ours/$wc")"
