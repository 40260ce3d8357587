"""A tiny keep-alive HTTP server on loopback: the upstream that Toxiproxy benchmarks and tests talk to.

Small and predictable on purpose, so that what is measured is the proxy, not the upstream.
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def hello_handler(body: bytes, content_type: str = "text/plain") -> type[BaseHTTPRequestHandler]:
    """A handler class answering every GET with ``body`` over HTTP/1.1 keep-alive."""

    class Hello(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle on, the body waits for a delayed ACK (40 ms).
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Hello


class QuietServer(ThreadingHTTPServer):
    """Daemon threads (a blackholed request must not hold shutdown) and no tracebacks for the resets
    and dropped connections that faults cause on purpose."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass
