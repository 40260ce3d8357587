"""Why a dependency call did not produce an answer.

    GatewayError
    └── DependencyError            one failed call to vector-db or the LLM (carries the dependency name)
        ├── CircuitOpenError       refused locally: breaker open or half-open trials all taken
        ├── DeadlineExceeded       the request's time budget was spent before (or while) calling
        ├── DependencyTimeout      an attempt got no answer within its per-attempt timeout
        ├── DependencyUnavailable  connection refused, reset or closed: transient, worth a retry
        ├── DependencyHttpError    the dependency answered with an error status or a body we cannot read
        └── StreamFailed           an SSE answer that broke: stalled, cut, an error event, a malformed event

``counts_as_failure`` says whether the breaker should count it (a timeout does: a hung dependency is the
worst kind of failure); ``retryable`` whether another attempt in the same request may help.
"""

from __future__ import annotations


class GatewayError(Exception):
    """Root of every error the gateway raises on purpose."""


class DependencyError(GatewayError):
    """A call to ``dependency`` failed; ``kind`` is the short name shown in /status and logs."""

    kind = "Error"
    retryable = False
    counts_as_failure = True

    def __init__(self, dependency: str, detail: str = "") -> None:
        self.dependency = dependency
        self.detail = detail
        super().__init__(f"{dependency}: {self.kind}{': ' + detail if detail else ''}")


class CircuitOpenError(DependencyError):
    kind = "CircuitOpen"
    counts_as_failure = False


class DeadlineExceeded(DependencyError):
    kind = "DeadlineExceeded"
    counts_as_failure = False


class DependencyTimeout(DependencyError):
    # Not retried inside the request: the attempt already spent the largest slice of the deadline the
    # policy allows, and a hung dependency is the breaker's job, not the user's wait.
    kind = "Timeout"


class DependencyUnavailable(DependencyError):
    kind = "ConnectError"
    retryable = True

    def __init__(self, dependency: str, detail: str = "", *, kind: str = "ConnectError") -> None:
        self.kind = kind
        super().__init__(dependency, detail)


# "Not now" from the dependency or something in front of it: worth another attempt. 529 is the
# overload status some LLM providers use; 408 a server that gave up waiting for our request.
RETRYABLE_STATUSES = frozenset({408, 429, 502, 503, 504, 529})


class DependencyHttpError(DependencyError):
    """An error status (or ``status`` 0: a body we cannot read).

    ``retry_after_s`` is the wait the dependency asked for (``Retry-After``/``retry-after-ms``), None
    when it named none. How statuses reach the breaker (docs/reference-system.md, "Rate limits"):
    429 is the provider asking us to slow down, not a sign it is broken, so it is neither a failure nor a
    success (the permit is released); 5xx, 529 and 408 are failures, so sustained overload opens the
    breaker and the gateway degrades at once instead of queueing users behind an overloaded provider;
    any other 4xx is our request's fault and says nothing about the dependency's health.
    """

    def __init__(self, dependency: str, status: int, detail: str = "", *, retry_after_s: float | None = None) -> None:
        self.status = status
        self.retry_after_s = retry_after_s
        self.kind = f"HTTP{status}" if status else "BadResponse"
        self.retryable = status in RETRYABLE_STATUSES
        self.counts_as_failure = status >= 500 or status in {0, 408}
        super().__init__(dependency, detail)


class StreamFailed(DependencyError):
    """A streamed answer that broke; ``kind`` says how.

    ``FirstTokenTimeout``/``IdleTimeout``  no token (or no event) in time: a stalled stream
    ``StreamCut``                           the connection ended without ``data: [DONE]``
    ``StreamError``                         an ``event: error`` or a ``data: {"error": ...}`` chunk
    ``MalformedEvent``                      an event whose data is not the JSON chunk it should be

    All count as failures. Only cuts and error events are retryable, and only before the first token
    (the caller's rule): a malformed event is a bug upstream that another attempt will likely repeat,
    and a stalled stream already spent the slice of the deadline a retry would need.
    """

    def __init__(self, dependency: str, kind: str, detail: str = "", *, retryable: bool = False) -> None:
        self.kind = kind
        self.retryable = retryable
        super().__init__(dependency, detail)
