#!/usr/bin/env bash
# Store memory over a long run: 200 series x 6 h at 1 s (goal: RSS <= 64 MiB).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --example store_rss
/usr/bin/time -f "whole process: max RSS %M KiB, %e s" target/release/examples/store_rss "${1:-200}" "${2:-6}"
