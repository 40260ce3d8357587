"""``python -m system_under_test.gateway``: serve the gateway configured from the environment."""

from __future__ import annotations

import os

from ..common.logs import configure_logging
from ..common.serve import serve
from .app import create_app
from .settings import GatewaySettings


def main() -> None:
    settings = GatewaySettings.from_env(os.environ)
    configure_logging("gateway", settings.log_level)
    serve(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    main()
