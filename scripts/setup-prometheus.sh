#!/usr/bin/env bash
# Makes Debian's Prometheus server and promtool available (package `prometheus`, 2.42 on Debian 12),
# idempotently.
#
# `harness run --monitoring` starts its own Prometheus on 127.0.0.1 with its data in the run directory,
# and the test command runs `promtool check rules` / `promtool test rules` on the shipped alert rules
# (system_under_test/monitoring/). Debian's package is used, like Chromium's, so nothing is fetched but
# from the package mirror. Only the binaries are wanted: recommended packages (the node exporter) are
# left out, and when the install started the system-wide service (on :9090, every interface) it is
# stopped and disabled again: the harness never uses it, and it must not listen beyond loopback.
# SKIP_PROMETHEUS=1 leaves it out (the promtool tests then fail and say how to install it).
# Skipped at once when the package is already installed. Exit 3 when it cannot be installed.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'setup-prometheus: %s\n' "$*" >&2; }

if [ "${SKIP_PROMETHEUS:-0}" = 1 ]; then log "skipped (SKIP_PROMETHEUS=1)"; exit 0; fi

# The same steps as setup.sh's apt_install, for the one package: skipped when dpkg knows it.
if ! dpkg -s prometheus >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || { log "need the Debian package prometheus (no apt-get here)"; exit 3; }
  sudo=""
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo"; fi
  log "installing Debian's prometheus (server and promtool, about 100 MB installed)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=l $sudo apt-get install -y -qq --no-install-recommends \
    prometheus >/dev/null
  # A machine with systemd starts the packaged service on install; the harness runs its own instances.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
    log "stopping and disabling the system-wide prometheus service the package started (:9090)"
    $sudo systemctl disable --now prometheus >/dev/null 2>&1 || log "could not stop the prometheus service"
  fi
fi
for tool in prometheus promtool; do
  [ -x "/usr/bin/$tool" ] || { log "the prometheus package is installed but /usr/bin/$tool is missing"; exit 3; }
done
log "$(/usr/bin/prometheus --version 2>&1 | head -n 1) and promtool at /usr/bin"
