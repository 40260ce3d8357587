"""``python -m system_under_test.vectordb``: serve the vector-db configured from the environment.

Exit codes: 0 after a graceful stop; 2 when a setting is invalid (the message names the variable);
3 when the lifespan fails, e.g. the corpus cannot be read.
"""

from __future__ import annotations

import sys

from system_under_test.common.serve import run_service
from system_under_test.vectordb.app import create_app
from system_under_test.vectordb.settings import from_env

if __name__ == "__main__":
    sys.exit(run_service("vector-db", from_env, create_app))
