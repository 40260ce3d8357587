#!/usr/bin/env bash
# The project's test command: set up what is missing, type-check (mypy --strict, configured in
# pyproject.toml), then run the whole test suite.
# Extra arguments go to pytest (e.g. scripts/test.sh -m "not slow"); SKIP_MYPY=1 skips the type check.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [[ "${SKIP_MYPY:-}" != 1 ]]; then
    echo "test: mypy --strict"
    .venv/bin/python -m mypy
fi
exec .venv/bin/python -m pytest "$@"
