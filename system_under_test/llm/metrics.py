"""The LLM service's Prometheus instruments, in a registry owned by one app instance.

A registry per app (instead of prometheus_client's global one) lets tests build many apps in one
process, and lets an upstream test run two LLM apps side by side.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram

# From a paced 30-token answer (~80 ms) to a slow upstream model (tens of seconds).
_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True)
class LlmMetrics:
    """Requests by status, their latency, generated tokens and upstream call outcomes."""

    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    completion_tokens: Counter
    upstream_calls: Counter

    @classmethod
    def create(cls) -> LlmMetrics:
        registry = CollectorRegistry()
        return cls(
            registry=registry,
            requests=Counter(
                "llm_requests",
                "Chat-completion requests by HTTP status.",
                ["status"],
                registry=registry,
            ),
            latency=Histogram(
                "llm_request_duration_seconds",
                "Chat-completion latency, to the last byte for streams.",
                ["stream"],
                buckets=_LATENCY_BUCKETS,
                registry=registry,
            ),
            completion_tokens=Counter(
                "llm_completion_tokens",
                "Tokens generated (or reported by the upstream) for answered requests.",
                registry=registry,
            ),
            upstream_calls=Counter(
                "llm_upstream_calls",
                "Calls forwarded to the upstream model by outcome (ok or an upstream error code).",
                ["outcome"],
                registry=registry,
            ),
        )

    def observe(self, *, status: int, stream: bool, seconds: float, completion_tokens: int = 0) -> None:
        """Record one finished request."""
        self.requests.labels(status=str(status)).inc()
        self.latency.labels(stream="true" if stream else "false").observe(seconds)
        if completion_tokens:
            self.completion_tokens.inc(completion_tokens)
