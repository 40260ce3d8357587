"""The LLM service's configuration, read from the environment once at start-up.

Everything that shapes behaviour under load (delays, timeouts, the upstream switch) lives here, so
tests build an ``LlmSettings`` with delays of zero instead of patching anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from system_under_test.common.env import SettingsError, env_float, env_int, env_str

DEFAULT_MODEL = "tsubame-extractive-1"
_LOG_LEVELS = frozenset({"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"})


@dataclass(frozen=True)
class LlmSettings:
    """How the LLM service listens, paces its answers and (optionally) reaches a real model.

    ``upstream_url`` unset means the embedded extractive generator answers; set, every completion is
    forwarded to that OpenAI-compatible base URL (for example ``http://127.0.0.1:11434/v1``).
    """

    host: str = "127.0.0.1"
    port: int = 8002
    log_level: str = "INFO"
    model: str = DEFAULT_MODEL
    base_delay_ms: float = 10.0
    token_delay_ms: float = 0.5
    default_max_tokens: int = 256
    upstream_url: str | None = None
    upstream_api_key: str | None = None
    upstream_model: str | None = None
    upstream_timeout_s: float = 60.0
    # After a failed upstream call, a readiness probe at most this often triggers one background
    # ``GET /models`` so the service can become ready again without user traffic.
    upstream_recheck_s: float = 5.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LlmSettings:
        """Settings from ``env``; a malformed variable raises ``SettingsError`` naming it."""
        port = env_int(env, "PORT", cls.port, minimum=1)
        if port > 65535:
            raise SettingsError(f"PORT={port} must be <= 65535")
        log_level = env_str(env, "LOG_LEVEL", cls.log_level).upper()
        if log_level not in _LOG_LEVELS:
            raise SettingsError(f"LOG_LEVEL={log_level!r} is not one of {sorted(_LOG_LEVELS)}")
        upstream_url = env_str(env, "LLM_UPSTREAM_URL", "").rstrip("/") or None
        if upstream_url is not None and not upstream_url.startswith(("http://", "https://")):
            raise SettingsError(f"LLM_UPSTREAM_URL={upstream_url!r} must start with http:// or https://")
        return cls(
            host=env_str(env, "HOST", cls.host),
            port=port,
            log_level=log_level,
            model=env_str(env, "LLM_MODEL", cls.model),
            base_delay_ms=env_float(env, "LLM_BASE_DELAY_MS", cls.base_delay_ms),
            token_delay_ms=env_float(env, "LLM_TOKEN_DELAY_MS", cls.token_delay_ms),
            default_max_tokens=env_int(env, "LLM_DEFAULT_MAX_TOKENS", cls.default_max_tokens, minimum=1),
            upstream_url=upstream_url,
            upstream_api_key=env_str(env, "LLM_UPSTREAM_API_KEY", "") or None,
            upstream_model=env_str(env, "LLM_UPSTREAM_MODEL", "") or None,
            upstream_timeout_s=env_float(env, "LLM_UPSTREAM_TIMEOUT_S", cls.upstream_timeout_s, minimum=0.001),
            upstream_recheck_s=env_float(env, "LLM_UPSTREAM_RECHECK_S", cls.upstream_recheck_s),
        )
