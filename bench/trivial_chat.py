"""A trivial ``/chat`` endpoint: the fastest answer this machine can give, to measure the load generator.

    python -m bench.trivial_chat --port PORT

Every request (any method, any path) gets the same small chat answer over HTTP/1.1 keep-alive. It is
a bare asyncio protocol, not a web framework, in its own process: when Locust is pointed at it, the
figure is Locust's own ceiling, so "Locust's rate here / the system's capacity" says whether the load
generator could be what limits a capacity figure.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from .child_server import HOST, child_server

BODY = b'{"message":"ok","mode":"normal","notice":null,"sources":[],"request_id":"bench","cached":false}'
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)


class ChatProtocol(asyncio.Protocol):
    """Answers each complete request (headers plus Content-Length body) in the buffer, in order."""

    def __init__(self) -> None:
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(b"\r\n\r\n")) >= 0:
            length = content_length(self._buffer[:end])
            total = end + 4 + length
            if len(self._buffer) < total:
                return
            self._buffer = self._buffer[total:]
            if self._transport is not None:
                self._transport.write(RESPONSE)


def content_length(head: bytes) -> int:
    """The Content-Length of a request head; 0 when there is none."""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                return max(0, int(value.strip()))
            except ValueError:
                return 0
    return 0


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(ChatProtocol, HOST, port, reuse_address=True)
    async with server:
        await server.serve_forever()


@contextmanager
def trivial_server(port: int) -> Iterator[str]:
    """Run the endpoint in a child process on ``port``; yields its base URL; stops it by PID."""
    with child_server(["bench.trivial_chat", "--port", str(port)], port):
        yield f"http://{HOST}:{port}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
