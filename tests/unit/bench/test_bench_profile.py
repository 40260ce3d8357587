"""The bench's profiles and the gateway knobs it sets: the configuration every ratio is taken against."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bench.profile import FULL, QUICK, ReferenceKnobs, is_reference
from core.topology import load_topology


def test_retry_sleeps_sum_the_full_jitter_ceilings() -> None:
    """Worst-case sleeps are the sum of min(cap, base * 2^i) over the retries a dependency may make."""
    knobs = ReferenceKnobs(vectordb_attempts=3, llm_attempts=2, backoff_base_s=0.05, backoff_cap_s=1.0)
    assert knobs.retry_sleeps_s("vector-db") == pytest.approx(0.15)
    assert knobs.retry_sleeps_s("llm") == pytest.approx(0.05)
    assert replace(knobs, vectordb_attempts=7).retry_sleeps_s("vector-db") == pytest.approx(0.05 + 0.1 + 0.2 + 0.4 + 0.8 + 1.0)


def test_gateway_env_carries_every_compared_value() -> None:
    """The values figures are compared with are the ones passed to the gateway."""
    env = ReferenceKnobs(reset_timeout_s=5.0, llm_timeout_s=5.0).gateway_env()
    assert float(env["GATEWAY_BREAKER_RESET_TIMEOUT_S"]) == 5.0
    assert float(env["GATEWAY_VECTORDB_TIMEOUT_S"]) == 3.0
    assert float(env["GATEWAY_LLM_TIMEOUT_S"]) == 5.0
    assert int(env["GATEWAY_VECTORDB_ATTEMPTS"]) == 3


def test_quick_shortens_the_reset_timeout_and_says_so() -> None:
    """--quick runs with a 5 s reset timeout, and its label names both that and the default."""
    assert QUICK.knobs.reset_timeout_s == 5.0
    assert "5 s" in QUICK.describe_reset() and "default is 30 s" in QUICK.describe_reset()
    assert FULL.describe_reset() == "reset_timeout 30 s (the gateway's default)"


def test_the_bundled_topology_is_the_reference() -> None:
    """The default topology gets the reference-only figures; a renamed one does not."""
    topology = load_topology()
    assert is_reference(topology)
    assert not is_reference(replace(topology, name="my-chatbot"))


def test_overrides_switch_off_the_llms_simulated_generation_time() -> None:
    """The bench's system measures the gateway's own cost: the LLM's pacing is set to zero."""
    overrides = ReferenceKnobs().overrides()
    assert overrides["llm"] == {"LLM_TOKEN_DELAY_MS": "0", "LLM_BASE_DELAY_MS": "0"}
    assert overrides["gateway"] == ReferenceKnobs().gateway_env()
