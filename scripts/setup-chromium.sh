#!/usr/bin/env bash
# Makes a headless Chromium available at /usr/bin/chromium (Debian's `chromium` package), idempotently.
#
# Only the browser test of the HTML report needs it (tests/integration/reports/test_report_in_browser.py):
# it opens a real run's index.html and checks that every figure loads and nothing is fetched from
# outside the file. Debian's package is used, not a browser downloaded by a test driver, so the machine
# never reaches anything but its package mirror, and the browser is updated with the rest of the system.
# SKIP_CHROMIUM=1 leaves it out (the browser test then fails and says how to install it).
# Skipped at once when the package is already installed. Exit 3 when it cannot be installed.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'setup-chromium: %s\n' "$*" >&2; }

if [ "${SKIP_CHROMIUM:-0}" = 1 ]; then log "skipped (SKIP_CHROMIUM=1)"; exit 0; fi

# The same steps as setup.sh's apt_install, for the one package: skipped when dpkg knows it.
if ! dpkg -s chromium >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || { log "need the Debian package chromium (no apt-get here)"; exit 3; }
  sudo=""
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo"; fi
  log "installing Debian's chromium (about 350 MB installed)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=l $sudo apt-get install -y -qq chromium >/dev/null
fi
[ -x /usr/bin/chromium ] || { log "the chromium package is installed but /usr/bin/chromium is missing"; exit 3; }
log "$(/usr/bin/chromium --headless --version 2>/dev/null || echo 'chromium') at /usr/bin/chromium"
