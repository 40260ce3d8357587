"""``python -m system_under_test.llm``: serve the LLM service configured from the environment.

Exit codes: 0 after a graceful stop; 2 when a setting is invalid (the message names the variable).
"""

from __future__ import annotations

import sys

from system_under_test.common.serve import run_service
from system_under_test.llm.app import create_app
from system_under_test.llm.settings import LlmSettings

if __name__ == "__main__":
    sys.exit(run_service("llm", LlmSettings.from_env, create_app))
