"""Why a dependency call did not produce an answer.

    GatewayError
    └── DependencyError            one failed call to vector-db or the LLM (carries the dependency name)
        ├── CircuitOpenError       refused locally: breaker open or half-open trials all taken
        ├── DeadlineExceeded       the request's time budget was spent before (or while) calling
        ├── DependencyTimeout      an attempt got no answer within its per-attempt timeout
        ├── DependencyUnavailable  connection refused, reset or closed: transient, worth a retry
        └── DependencyHttpError    the dependency answered with an error status or a body we cannot read

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


class DependencyHttpError(DependencyError):
    def __init__(self, dependency: str, status: int, detail: str = "") -> None:
        self.status = status
        self.kind = f"HTTP{status}" if status else "BadResponse"
        # 502/503/504/429 are the dependency (or something in front of it) saying "not now".
        self.retryable = status in {429, 502, 503, 504}
        # Any other 4xx is our request's fault, not the dependency's health.
        self.counts_as_failure = status >= 500 or status in {0, 429}
        super().__init__(dependency, detail)
