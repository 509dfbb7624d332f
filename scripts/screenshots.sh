#!/usr/bin/env bash
# PNGs of each dashboard view from a real demo run: the demo runs in tmux at 160×48, each view
# is captured with its colours once the pipeline is past its wall, and rendered to PNG.
# Needs what scripts/demo.sh installs, tmux, Pillow (pip) and the DejaVu fonts.
set -euo pipefail
cd "$(dirname "$0")/.."
AT=${AT:-110}    # seconds into the demo's 150 s ramp: past the wall, errors visible
command -v tmux >/dev/null 2>&1 || { echo "tmux is missing: apt-get install tmux" >&2; exit 1; }
python3 -c "import PIL" 2>/dev/null || python3 -m pip install -q --disable-pip-version-check pillow
export PATH="$PATH:$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
cargo build --release --workspace --bins --quiet
WORK=$(mktemp -d)
T="tmux -S $WORK/tmux.sock -f /dev/null"
cleanup() { $T kill-server 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
mkdir -p screenshots
$T new-session -d -s demo -x 160 -y 48 "TERM=xterm-256color target/release/slitop demo --out $WORK/run"
sleep 40
$T send-keys -t demo a
sleep 0.5
$T send-keys -t demo -l "raised workers' prefetch to 4"
$T send-keys -t demo Enter
sleep $((AT - 40))
shoot() { # session key:name... : each view's screen as screenshots/NAME.png
  local session=$1; shift
  for v in "$@"; do
    $T send-keys -t "$session" "${v%%:*}"
    sleep 1.5
    $T capture-pane -e -p -t "$session" > "$WORK/${v#*:}.ans"
    python3 scripts/ansi2png.py "$WORK/${v#*:}.ans" "screenshots/${v#*:}.png" 160 48
    echo "screenshots/${v#*:}.png"
  done
}
shoot demo 1:dashboard 2:queue 3:envelope 4:events
$T send-keys -t demo q
sleep 0.5
$T send-keys -t demo y
sleep 3
# The same demo with twice the workers, drawn over the first run (--baseline): faint lines,
# ghost onsets on the strip, throughput against the baseline at the same load.
$T new-session -d -s base -x 160 -y 48 "TERM=xterm-256color target/release/slitop demo --consumers 8 --baseline $WORK/run --out $WORK/run8"
sleep "$AT"
shoot base 1:baseline 3:baseline-envelope
$T send-keys -t base q
sleep 0.5
$T send-keys -t base y
sleep 3
# The scaling plot across worker counts (scale.svg).
scripts/screenshot-scale.sh
