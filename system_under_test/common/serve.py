"""Run one service under uvicorn with the fast event loop and HTTP parser.

One process, one event loop: the gateway's breakers and budgets live in memory, so several workers
would each keep their own and disagree about the system's mode.
"""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI


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
