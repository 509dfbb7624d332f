#!/usr/bin/env bash
# Dashboard cost, side by side with btop and htop at the same size (160×48, 1 s refresh):
#   1. median render time of a full 200×60 dashboard frame (criterion; goal ≤ 1 ms);
#   2. bytes written to the terminal per second in steady state, measured through tmux
#      pipe-pane while `slitop demo` drives the pipeline past its wall (goal ≤ 3 KB/s with every
#      chart live, with a --baseline drawn under it too, and ≤ htop's with --low-bandwidth);
#   3. CPU time per minute of each process over the same minute (goal: below btop's).
# Needs tmux, btop and htop (installed with apt when missing) and what scripts/demo.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."
WARM=${WARM:-45}     # seconds before measuring (charts filled, saturation under way)
SPAN=${SPAN:-60}     # seconds measured
need=()
for p in tmux btop htop; do command -v $p >/dev/null 2>&1 || need+=($p); done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
export PATH="$PATH:$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
cargo build --release --workspace --bins --quiet
echo "== render time (criterion, 200×60) =="
cargo bench --quiet --bench render -- --noplot 2>/dev/null |
  awk '/^render\// { name = $1 } /time:/ { for (i = 1; i <= NF; i++) if ($i == "time:") print name, $(i + 3), $(i + 4) }'

WORK=$(mktemp -d)
SOCK="$WORK/tmux.sock"
T="tmux -S $SOCK -f /dev/null"
cleanup() { $T kill-server 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
# btop reads its refresh from its config: give it 1 s like the others, in a private HOME.
mkdir -p "$WORK/home/.config/btop"
echo 'update_ms = 1000' > "$WORK/home/.config/btop/btop.conf"

pid_in() { # the pid of the program in a tmux session's pane (the pane's shell may exec it)
  local p; p=$($T display -p -t "$1" '#{pane_pid}')
  case "$(cat /proc/$p/comm)" in
    sh|bash|dash) pgrep -P "$p" | head -1 ;;
    *) echo "$p" ;;
  esac
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

measure() { # label session... : bytes/s and CPU s/min of each session over SPAN
  local sessions=("$@") b0=() c0=() p=()
  for s in "${sessions[@]}"; do
    local pid; pid=$(pid_in "$s"); p+=("$pid")
    b0+=("$(stat -c %s "$WORK/$s.out")"); c0+=("$(cpu_ticks "$pid")")
  done
  sleep "$SPAN"
  local hz; hz=$(getconf CLK_TCK)
  for i in "${!sessions[@]}"; do
    local s=${sessions[$i]} b1 c1
    b1=$(stat -c %s "$WORK/$s.out"); c1=$(cpu_ticks "${p[$i]}")
    awk -v n="$s" -v b="$((b1 - b0[i]))" -v c="$((c1 - c0[i]))" -v span="$SPAN" -v hz="$hz" \
      'BEGIN { printf "%-22s %8.2f KB/s   CPU %5.2f s/min\n", n, b / span / 1000, c / hz / span * 60 }'
  done
}

start() { # session command
  $T new-session -d -s "$1" -x 160 -y 48 "$2"
  : > "$WORK/$1.out"
  $T pipe-pane -t "$1" -o "cat >> $WORK/$1.out"
}

LEN=$((WARM + SPAN + 20))
echo "== terminal traffic and CPU, 160×48, 1 s refresh, over ${SPAN}s after ${WARM}s =="
start slitop "target/release/slitop demo --ramp ${LEN}s --duration ${LEN}s --out $WORK/run-full"
start btop "HOME=$WORK/home btop"
start htop "htop -d 10"
sleep "$WARM"
measure slitop btop htop
$T kill-session -t slitop; $T kill-session -t btop; $T kill-session -t htop
sleep 3
start slitop-low-bandwidth "target/release/slitop demo --low-bandwidth --ramp ${LEN}s --duration ${LEN}s --out $WORK/run-low"
start htop "htop -d 10"
sleep "$WARM"
measure slitop-low-bandwidth htop
$T kill-session -t slitop-low-bandwidth; $T kill-session -t htop
sleep 3
# The same demo drawn over the first run (--baseline): every chart carries a second, faint line.
# The first run was ended by its session closing (SIGHUP), which keeps its recording but writes
# no report; --baseline (also read by the regression gates) needs its report.json.
# The recording is compressed by default (recording.jsonl.zst); take whichever form is there.
target/release/slitop report "$(ls "$WORK"/run-full/recording.jsonl* | head -1)" >/dev/null
start slitop-baseline "target/release/slitop demo --baseline $WORK/run-full --ramp ${LEN}s --duration ${LEN}s --out $WORK/run-base"
start htop "htop -d 10"
sleep "$WARM"
measure slitop-baseline htop
