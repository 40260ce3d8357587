"""``python -m system_under_test.gateway``: serve the gateway configured from the environment.

Exit codes: 0 after a graceful stop; 2 when a setting is invalid (the message names the variable).
"""

from __future__ import annotations

import sys

from system_under_test.common.serve import run_service
from system_under_test.gateway.app import create_app
from system_under_test.gateway.settings import GatewaySettings

if __name__ == "__main__":
    sys.exit(run_service("gateway", GatewaySettings.from_env, create_app))
