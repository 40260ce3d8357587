"""The trivial /chat endpoint answers every complete request once, pipelined or split across reads."""

from __future__ import annotations

import asyncio

from bench.trivial_chat import RESPONSE, ChatProtocol, content_length


class _Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))


REQUEST = b'POST /chat HTTP/1.1\r\nHost: x\r\nContent-Length: 13\r\n\r\n{"message":1}'


def test_content_length_is_read_case_insensitively() -> None:
    """The body length comes from the Content-Length header in any case; none means no body."""
    assert content_length(b"POST / HTTP/1.1\r\ncontent-LENGTH: 42") == 42
    assert content_length(b"GET / HTTP/1.1\r\nHost: x") == 0


def test_pipelined_requests_get_one_answer_each() -> None:
    """Two requests in one read get two answers, in order."""
    protocol, transport = ChatProtocol(), _Transport()
    protocol.connection_made(transport)
    protocol.data_received(REQUEST + REQUEST)
    assert transport.written == [RESPONSE, RESPONSE]


def test_a_request_split_across_reads_is_answered_once_complete() -> None:
    """Nothing is answered until the body has fully arrived."""
    protocol, transport = ChatProtocol(), _Transport()
    protocol.connection_made(transport)
    protocol.data_received(REQUEST[:-5])
    assert transport.written == []
    protocol.data_received(REQUEST[-5:])
    assert transport.written == [RESPONSE]
