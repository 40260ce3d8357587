"""Run one service under uvicorn with the fast event loop and HTTP parser.

One process, one event loop: the gateway's breakers and budgets live in memory, so several workers
would each keep their own and disagree about the system's mode.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Protocol, TypeVar

import uvicorn
from fastapi import FastAPI

from .env import SettingsError
from .logs import configure_logging


class ServiceSettings(Protocol):
    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def log_level(self) -> str: ...


S = TypeVar("S", bound=ServiceSettings)


def serve(app: FastAPI, host: str, port: int) -> None:
    """Serve ``app`` until SIGINT/SIGTERM; uvicorn shuts down gracefully on either."""
    uvicorn.run(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=5,
    )


def run_service(
    service: str, load_settings: Callable[[Mapping[str, str]], S], create_app: Callable[[S], FastAPI]
) -> int:
    """A service's ``main``: settings from the environment (exit 2 naming the variable when one is
    invalid), JSON logs, then serve. Uvicorn exits 3 when the app's lifespan fails to start."""
    try:
        settings = load_settings(os.environ)
    except SettingsError as exc:
        configure_logging(service)
        logging.getLogger(service).error("invalid settings: %s", exc)
        return 2
    configure_logging(service, settings.log_level)
    serve(create_app(settings), settings.host, settings.port)
    return 0
