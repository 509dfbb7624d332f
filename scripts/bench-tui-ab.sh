#!/usr/bin/env bash
# CPU of two slitop builds watching the demo side by side, at the same moment, each with its own
# pipeline, with htop beside them as the reference (160×48, 1 s refresh). A machine whose load
# changes from one minute to the next (other guests, a build) moves every figure; running the
# builds together keeps their ratio honest.
#
#   scripts/bench-tui-ab.sh OLD_SLITOP NEW_SLITOP [RUNS]
#
# Each binary needs slitop-pipeline next to it (copy target/release/slitop-pipeline there).
# Prints CPU s/min per process and run, then NEW/OLD per run.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 OLD_SLITOP NEW_SLITOP [RUNS]" >&2; exit 2; }
OLD=$(realpath "$1"); NEW=$(realpath "$2"); RUNS=${3:-2}
WARM=${WARM:-45}; SPAN=${SPAN:-60}; LEN=$((WARM + SPAN + 15))
command -v htop >/dev/null && command -v tmux >/dev/null || { echo "needs tmux and htop" >&2; exit 2; }
WORK=$(mktemp -d); SOCK="$WORK/tmux.sock"; T="tmux -S $SOCK -f /dev/null"
cleanup() { $T kill-server 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
pid_in() {
  local p; p=$($T display -p -t "$1" '#{pane_pid}')
  case "$(cat /proc/$p/comm)" in sh|bash|dash) pgrep -P "$p" | head -1 ;; *) echo "$p" ;; esac
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
for run in $(seq 1 "$RUNS"); do
  # Alternate which build starts first.
  if [ $((run % 2)) -eq 1 ]; then order=(old new); else order=(new old); fi
  for who in "${order[@]}"; do
    bin=$OLD; [ "$who" = new ] && bin=$NEW
    $T new-session -d -s "$who" -x 160 -y 48 "$bin demo --ramp ${LEN}s --duration ${LEN}s --out $WORK/$who-$run"
  done
  $T new-session -d -s htop -x 160 -y 48 "htop -d 10"
  sleep "$WARM"
  declare -A pid c0
  for s in old new htop; do pid[$s]=$(pid_in "$s"); c0[$s]=$(ticks "${pid[$s]}"); done
  sleep "$SPAN"
  declare -A cpu
  for s in old new htop; do
    cpu[$s]=$(awk -v c=$(( $(ticks "${pid[$s]}") - c0[$s] )) -v span="$SPAN" -v hz="$hz" 'BEGIN { printf "%.3f", c / hz / span * 60 }')
  done
  printf 'run %d: old %s s/min, new %s s/min, htop %s s/min; new/old %s\n' "$run" \
    "${cpu[old]}" "${cpu[new]}" "${cpu[htop]}" \
    "$(awk -v a="${cpu[new]}" -v b="${cpu[old]}" 'BEGIN { printf "%.2f", a / b }')"
  $T kill-server 2>/dev/null || true
  sleep 3
done
