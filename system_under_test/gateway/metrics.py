"""The gateway's Prometheus metrics, on a registry the app owns."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from .breaker import BreakerState, Transition
from .modes import Mode

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
        self.dependency_healthy = Gauge(
            "chatbot_dependency_healthy", "1 when the background probe last found the dependency healthy.",
            ["dependency"], registry=r,
        )

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
