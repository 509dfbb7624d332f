#!/usr/bin/env bash
# Fuzzes every parser of outside input with N inputs each (default 10,000,000), one target
# after another, and prints the table: inputs, distinct outcomes, panics (caught panics, aborts
# and hangs; each input is written to a file whose path is printed), the slowest input, inputs/s
# and wall time. SEED=S picks another stream of inputs. Exits 1 when anything was found.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000000}
cargo build --release --quiet --example fuzz
exec nice -n 19 target/release/examples/fuzz all --inputs "$n" --seed "${SEED:-1}"
