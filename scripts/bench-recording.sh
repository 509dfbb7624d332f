#!/usr/bin/env bash
# Recording size: each detector fixture (a real demo run, its signal set at a 1 s refresh)
# replayed through the recorder as plain JSON lines and compressed, side by side: bytes per
# second of the run, the projection to a 24 h soak, and the ratio (goal: <= 50 MB per 24 h).
# `--demo` records a fresh 150 s demo ramp (Valkey and k6 needed) and measures it too.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --workspace --bins
bin=target/release/slitop
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The run's span in seconds: first to last tick of the plain recording.
span() {
  jq -s '[.[] | select(.k == "tick") | .t] | (max - min) / 1000' "$1"
}

row() { # name, seconds, plain bytes, compressed bytes
  awk -v n="$1" -v s="$2" -v p="$3" -v z="$4" 'BEGIN {
    printf "%-10s %6.0f s %9.0f B/s %8.1f MB/24h %9.0f B/s %8.1f MB/24h %7.1fx\n",
      n, s, p / s, p / s * 86400 / 1e6, z / s, z / s * 86400 / 1e6, p / z }'
}

printf "%-10s %8s  %-27s %-27s %7s\n" "run" "span" "plain recording.jsonl" "recording.jsonl.zst" "ratio"
# Runs slitop quietly; its errors are shown if it fails.
quiet() {
  "$bin" "$@" >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
}
measure() { # name, recording to replay
  local out="$tmp/$1"
  quiet replay "$2" --headless --record-format jsonl --out "$out-plain"
  quiet replay "$2" --headless --out "$out-zst"
  row "$1" "$(span "$out-plain/recording.jsonl")" \
    "$(stat -c %s "$out-plain/recording.jsonl")" "$(stat -c %s "$out-zst/recording.jsonl.zst")"
}
for f in tests/fixtures/detector/*.jsonl; do
  measure "$(basename "$f" .jsonl)" "$f"
done
if [[ "${1:-}" == "--demo" ]]; then
  quiet demo --headless --out "$tmp/demo"
  measure demo "$(ls "$tmp"/demo/recording.jsonl*)"
fi
