#!/usr/bin/env bash
# The project's main command: set up what is missing, then run the harness CLI (default: run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
[ $# -gt 0 ] || set -- run
exec .venv/bin/python harness.py "$@"
