"""The gateway's Prometheus metrics, on a registry the app owns."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from .breaker import BreakerState, Transition
from .modes import Mode
from .retry_after import RetryDecision

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class GatewayMetrics:
    """Requests by mode and status, latency, breaker state, dependency call outcomes and retries."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("chatbot_requests", "Chat requests answered.", ["mode", "status"], registry=r)
        self.latency = Histogram(
            "chatbot_request_duration_seconds", "Chat request latency.", ["mode"], buckets=_LATENCY_BUCKETS, registry=r
        )
        self.mode = Gauge("chatbot_mode", "1 for the system's current mode.", ["mode"], registry=r)
        self.breaker_state = Gauge(
            "chatbot_breaker_state", "1 for each dependency's current breaker state.", ["dependency", "state"], registry=r
        )
        self.breaker_transitions = Counter(
            "chatbot_breaker_transitions", "Breaker state changes.", ["dependency", "from_state", "to_state"], registry=r
        )
        self.dependency_calls = Counter(
            "chatbot_dependency_calls", "Dependency call attempts by outcome.", ["dependency", "outcome"], registry=r
        )
        self.dependency_latency = Histogram(
            "chatbot_dependency_call_duration_seconds",
            "Dependency call attempt latency.",
            ["dependency"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.retries = Counter("chatbot_retries", "Retries attempted.", ["dependency"], registry=r)
        self.retries_denied = Counter(
            "chatbot_retries_denied", "Retries not attempted, by reason.", ["dependency", "reason"], registry=r
        )
        # Retry-After: honoured (slept as asked, then retried) or refused, by why (attempts, deadline, budget).
        self.retry_after_honoured = Counter(
            "chatbot_retry_after_honoured", "Retry-After waits slept before a retry.", ["dependency"], registry=r
        )
        self.retry_after_refused = Counter(
            "chatbot_retry_after_refused", "Retry-After answers not retried, by reason (the request degraded).",
            ["dependency", "reason"], registry=r,
        )
        # /chat/stream: every stream also counts in chatbot_requests_total (status 200); this says how it
        # ended: complete, or partial (the LLM stream broke after its first token; the user got a notice).
        self.stream_answers = Counter(
            "chatbot_stream_answers", "Streamed answers by mode and outcome.", ["mode", "outcome"], registry=r
        )
        self.first_token = Histogram(
            "chatbot_stream_first_token_seconds", "Time from the request to the first token event of /chat/stream.",
            ["mode"], buckets=_LATENCY_BUCKETS, registry=r,
        )
        self.dependency_healthy = Gauge(
            "chatbot_dependency_healthy", "1 when the background probe last found the dependency healthy.",
            ["dependency"], registry=r,
        )

    def observe_retry_decision(self, dependency: str, decision: RetryDecision) -> None:
        """One retry decision: a retry, or a denial by reason; with a Retry-After, honoured or refused."""
        if decision.retry:
            self.retries.labels(dependency).inc()
        else:
            self.retries_denied.labels(dependency, decision.reason).inc()
        if decision.retry_after_s is not None:
            if decision.honoured:
                self.retry_after_honoured.labels(dependency).inc()
            else:
                self.retry_after_refused.labels(dependency, decision.reason).inc()

    def set_breaker_state(self, dependency: str, state: BreakerState) -> None:
        for candidate in BreakerState:
            self.breaker_state.labels(dependency, candidate.value).set(1.0 if candidate is state else 0.0)

    def observe_transition(self, transition: Transition) -> None:
        self.breaker_transitions.labels(
            transition.dependency, transition.from_state.value, transition.to_state.value
        ).inc()
        self.set_breaker_state(transition.dependency, transition.to_state)

    def set_mode(self, mode: Mode) -> None:
        for candidate in Mode:
            self.mode.labels(candidate.value).set(1.0 if candidate is mode else 0.0)
