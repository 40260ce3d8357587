"""The startup probe both backends wait on: passes on 2xx, names why a service is gone, times out with its log."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from core.errors import ServiceStartError
from system.probes import wait_started


@contextmanager
def _probe_answering(status: int) -> Iterator[str]:
    """A loopback server whose every GET answers ``status``; yields its startup probe's URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the http.server API names it so
            self.send_response(status)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/healthz/startup"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_startup_probe_returns_once_it_answers_2xx() -> None:
    """A probe answering 204 ends the wait at once, without asking for the log."""
    asked: list[str] = []

    def log() -> str:
        asked.append("log")
        return "never"

    with _probe_answering(204) as url:
        wait_started("llm", url, 5.0, lambda: None, log)
    assert asked == []


def test_startup_probe_gone_service_fails_with_the_reason_and_log() -> None:
    """When the service is gone, the error says why and names the log."""
    with _probe_answering(204) as url, pytest.raises(
            ServiceStartError, match=r"'llm' did not start: exited with code 3 \(see llm\.log\)"):
        wait_started("llm", url, 5.0, lambda: "exited with code 3", lambda: "llm.log")


def test_startup_probe_that_never_passes_times_out_naming_url_and_log() -> None:
    """A probe that never answers below 300 fails after the timeout with the URL, the time and the log."""
    with _probe_answering(503) as url, pytest.raises(
            ServiceStartError, match=r"startup probe .*/healthz/startup did not pass within 0\.3s \(see v\.log\)"):
        wait_started("vector-db", url, 0.3, lambda: None, lambda: "v.log")
