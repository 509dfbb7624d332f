#!/usr/bin/env bash
# The scaling plot for screenshots/: the real pipeline at 1, 2 and 4 workers (100 ms each),
# each ramped from half to 1.5× its own capacity over a short ramp, then the capacity-vs-workers
# curve with its Universal Scalability Law fit (screenshots/scale.svg). About a minute and a
# half.
# Needs what scripts/demo.sh installs; builds nothing (scripts/screenshots.sh builds first).
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p screenshots
target/release/slitop demo --workers 1,2,4 --service-time 100ms --ramp 15s --duration 22s \
  --out "$WORK/sweep" >/dev/null
cp "$WORK/sweep/scale.svg" screenshots/scale.svg
echo "screenshots/scale.svg"
