#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian/Ubuntu machine, idempotently:
# Debian packages (python3-venv), the project's virtualenv with its Python dependencies, the
# Toxiproxy server (built from its Go module), Debian's Prometheus and promtool, and the Docker engine with the reference image.
# SKIP_DOCKER=1 leaves the Docker part out (for machines where the tests marked docker are not run).
# Re-running is cheap: each step is skipped when its result is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'setup: %s\n' "$*" >&2; }

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

apt_install() {
  # Installs the named Debian packages that are missing.
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null 2>&1 || { log "need Debian packages: ${missing[*]} (no apt-get here)"; exit 3; }
  log "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
}

PYTHON="${PYTHON:-python3}"
command -v "$PYTHON" >/dev/null 2>&1 || apt_install python3
"$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), sys.version' \
  || { log "Python 3.11 or newer is needed (found $("$PYTHON" --version))"; exit 3; }
if ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then apt_install python3-venv; fi

if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  "$PYTHON" -m venv .venv
fi

stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  log "installing Python dependencies into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  rm -f .venv/.installed-*
  touch "$stamp"
fi
# A CJK font for the report's figures: questions and fault labels can be Japanese.
apt_install fonts-ipafont-gothic
scripts/setup-toxiproxy.sh
scripts/setup-chromium.sh
scripts/setup-prometheus.sh
if [ "${SKIP_DOCKER:-0}" != 1 ]; then scripts/setup-docker.sh; fi
log "ready"
