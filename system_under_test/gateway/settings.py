"""The gateway's configuration: read from the environment once, at start-up, and passed down.

Every threshold and timeout lives here so tests (and harness scenarios) can shrink them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..common.env import SettingsError, env_bool, env_float, env_int, env_str
from .breaker import BreakerConfig
from .faq import DEFAULT_FAQ_PATH
from .variants import Flaw, parse_flaw
from .retry import Backoff


@dataclass(frozen=True)
class DependencySettings:
    """How the gateway calls one dependency."""

    name: str
    url: str
    attempt_timeout_s: float
    max_attempts: int
    breaker: BreakerConfig
    pool_size: int = 100


@dataclass(frozen=True)
class GatewaySettings:
    host: str = "127.0.0.1"
    port: int = 8000
    vectordb: DependencySettings = field(
        default_factory=lambda: DependencySettings("vector-db", "http://127.0.0.1:21001", 3.0, 3, BreakerConfig())
    )
    llm: DependencySettings = field(
        default_factory=lambda: DependencySettings("llm", "http://127.0.0.1:21002", 30.0, 2, BreakerConfig())
    )
    # One budget for the whole request; retrieval gets at most its own slice of it so that a hung
    # vector-db cannot eat the time the LLM needs.
    request_deadline_s: float = 35.0
    retrieval_budget_s: float = 4.0
    # /chat/stream: the LLM's first token must come within this (counted from sending the request), and
    # after it no more than this may pass between events; the attempt timeout cut to the deadline bounds
    # the whole stream. Far below the 30 s attempt timeout: a stalled stream is noticed in seconds.
    llm_first_token_timeout_s: float = 5.0
    llm_idle_timeout_s: float = 2.0
    top_k: int = 3
    backoff: Backoff = field(default_factory=Backoff)
    retry_budget_ratio: float = 0.1
    retry_budget_min_per_s: float = 1.0
    probe_interval_s: float = 1.0
    # None: each dependency's own per-attempt timeout, so a probe never calls "down" what a request
    # would still have waited for.
    probe_timeout_s: float | None = None
    unhealthy_after: int = 2
    faq_path: Path = DEFAULT_FAQ_PATH
    faq_threshold: float = 0.5
    cache_answers: bool = True
    seed: int | None = None
    log_level: str = "INFO"
    # Extra seconds the answer index takes to load, to model a production-size index: the gateway
    # must not say it is ready (or accept connections) before it can answer.
    index_warmup_s: float = 0.0
    # A deliberately flawed variant (system_under_test/gateway/flaws.py); None is the reference.
    variant: Flaw | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> GatewaySettings:
        """Build settings from ``GATEWAY_*`` variables (see docs/configuration.md)."""
        try:
            breaker = _breaker_from_env(env)
        except SettingsError:
            raise
        except ValueError as exc:
            raise SettingsError(f"GATEWAY_BREAKER_*: {exc}") from None
        return cls(
            host=env_str(env, "HOST", "127.0.0.1"),
            port=env_int(env, "PORT", 8000, minimum=1),
            vectordb=DependencySettings(
                "vector-db",
                env_str(env, "VECTORDB_URL", "http://127.0.0.1:21001").rstrip("/"),
                env_float(env, "GATEWAY_VECTORDB_TIMEOUT_S", 3.0),
                env_int(env, "GATEWAY_VECTORDB_ATTEMPTS", 3, minimum=1),
                breaker,
            ),
            llm=DependencySettings(
                "llm",
                env_str(env, "LLM_URL", "http://127.0.0.1:21002").rstrip("/"),
                env_float(env, "GATEWAY_LLM_TIMEOUT_S", 30.0),
                env_int(env, "GATEWAY_LLM_ATTEMPTS", 2, minimum=1),
                breaker,
            ),
            request_deadline_s=env_float(env, "GATEWAY_REQUEST_DEADLINE_S", 35.0),
            retrieval_budget_s=env_float(env, "GATEWAY_RETRIEVAL_BUDGET_S", 4.0),
            llm_first_token_timeout_s=env_float(env, "GATEWAY_LLM_FIRST_TOKEN_TIMEOUT_S", 5.0, minimum=0.001),
            llm_idle_timeout_s=env_float(env, "GATEWAY_LLM_IDLE_TIMEOUT_S", 2.0, minimum=0.001),
            top_k=env_int(env, "GATEWAY_TOP_K", 3, minimum=1),
            backoff=Backoff(
                base_s=env_float(env, "GATEWAY_BACKOFF_BASE_S", 0.05),
                cap_s=env_float(env, "GATEWAY_BACKOFF_CAP_S", 1.0),
            ),
            retry_budget_ratio=env_float(env, "GATEWAY_RETRY_BUDGET_RATIO", 0.1),
            retry_budget_min_per_s=env_float(env, "GATEWAY_RETRY_BUDGET_MIN_PER_S", 1.0),
            probe_interval_s=env_float(env, "GATEWAY_PROBE_INTERVAL_S", 1.0, minimum=0.01),
            probe_timeout_s=(
                env_float(env, "GATEWAY_PROBE_TIMEOUT_S", 1.0, minimum=0.01) if env.get("GATEWAY_PROBE_TIMEOUT_S") else None
            ),
            unhealthy_after=env_int(env, "GATEWAY_UNHEALTHY_AFTER", 2, minimum=1),
            faq_path=Path(env_str(env, "GATEWAY_FAQ_PATH", str(DEFAULT_FAQ_PATH))),
            faq_threshold=env_float(env, "GATEWAY_FAQ_THRESHOLD", 0.5),
            cache_answers=env_bool(env, "GATEWAY_CACHE_ANSWERS", True),
            seed=env_int(env, "GATEWAY_SEED", 0) if env.get("GATEWAY_SEED") else None,
            log_level=env_str(env, "LOG_LEVEL", "INFO"),
            index_warmup_s=env_float(env, "GATEWAY_INDEX_WARMUP_S", 0.0),
            variant=_variant_from_env(env),
        )


def _variant_from_env(env: Mapping[str, str]) -> Flaw | None:
    try:
        return parse_flaw(env_str(env, "GATEWAY_VARIANT", ""))
    except ValueError as exc:
        raise SettingsError(f"GATEWAY_VARIANT: {exc}") from None


def _breaker_from_env(env: Mapping[str, str]) -> BreakerConfig:
    return BreakerConfig(
        failure_rate_threshold=env_float(env, "GATEWAY_BREAKER_FAILURE_RATE", 0.5),
        window_s=env_float(env, "GATEWAY_BREAKER_WINDOW_S", 10.0),
        min_calls=env_int(env, "GATEWAY_BREAKER_MIN_CALLS", 10, minimum=1),
        consecutive_failures=env_int(env, "GATEWAY_BREAKER_CONSECUTIVE_FAILURES", 10, minimum=1),
        reset_timeout_s=env_float(env, "GATEWAY_BREAKER_RESET_TIMEOUT_S", 30.0),
        half_open_max_calls=env_int(env, "GATEWAY_BREAKER_HALF_OPEN_CALLS", 3, minimum=1),
        success_threshold=env_int(env, "GATEWAY_BREAKER_SUCCESS_THRESHOLD", 2, minimum=1),
    )
