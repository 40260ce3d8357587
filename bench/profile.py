"""How much a benchmark run measures (``--quick`` or full) and the reference system's knobs it sets.

Every figure that is compared with configuration (a timeout, the breaker's ``reset_timeout``) is
compared with the value this module *sets* on the gateway through its ``GATEWAY_*`` environment, never
with a default remembered from elsewhere: the harness never imports the system under test, so the
only configuration it can know for sure is the one it passed in. ``--quick`` shortens the breaker's
reset timeout (5 s instead of 30 s) so recovery fits in a CI budget; the ratio is still against the
value configured, and the table says which.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.settings import PROJECT_ROOT
from core.topology import Topology

REFERENCE_TOPOLOGY_NAME = "tsubame-reference"
CI_BUDGET_S = 30 * 60.0  # the whole CI job must stay under this


@dataclass(frozen=True)
class ReferenceKnobs:
    """The gateway configuration the bench runs the reference system with (and compares against)."""

    vectordb_timeout_s: float = 3.0
    vectordb_attempts: int = 3
    # The gateway's default LLM timeout is 30 s; 5 s keeps an LLM blackhole inside the bench's budget
    # and is still far above the LLM's normal answer time (tens of ms).
    llm_timeout_s: float = 5.0
    llm_attempts: int = 2
    reset_timeout_s: float = 30.0
    consecutive_failures: int = 10  # the breaker opens after this many failures in a row (the default)
    backoff_base_s: float = 0.05
    backoff_cap_s: float = 1.0

    def timeout_s(self, dependency: str) -> float:
        return self.vectordb_timeout_s if dependency == "vector-db" else self.llm_timeout_s

    def attempts(self, dependency: str) -> int:
        return self.vectordb_attempts if dependency == "vector-db" else self.llm_attempts

    def retry_sleeps_s(self, dependency: str) -> float:
        """The longest a request can sleep between attempts: full jitter draws each sleep from
        [0, min(cap, base * 2^attempt)], so the worst case is the sum of those ceilings."""
        return sum(min(self.backoff_cap_s, self.backoff_base_s * 2.0**i) for i in range(self.attempts(dependency) - 1))

    def gateway_env(self) -> dict[str, str]:
        return {
            "GATEWAY_VECTORDB_TIMEOUT_S": repr(self.vectordb_timeout_s),
            "GATEWAY_VECTORDB_ATTEMPTS": str(self.vectordb_attempts),
            "GATEWAY_LLM_TIMEOUT_S": repr(self.llm_timeout_s),
            "GATEWAY_LLM_ATTEMPTS": str(self.llm_attempts),
            "GATEWAY_BREAKER_RESET_TIMEOUT_S": repr(self.reset_timeout_s),
            "GATEWAY_BREAKER_CONSECUTIVE_FAILURES": str(self.consecutive_failures),
            "GATEWAY_BACKOFF_BASE_S": repr(self.backoff_base_s),
            "GATEWAY_BACKOFF_CAP_S": repr(self.backoff_cap_s),
            "GATEWAY_SEED": "1",
            "LOG_LEVEL": "WARNING",
        }

    def llm_env(self) -> dict[str, str]:
        """The LLM without its simulated generation time: the figures are the gateway's own cost (and
        a degraded answer's p99 is not an LLM's sleep), as in ``bench.reference_system``."""
        return {"LLM_TOKEN_DELAY_MS": "0", "LLM_BASE_DELAY_MS": "0"}

    def overrides(self) -> dict[str, dict[str, str]]:
        """Per-service environment for ``ManagedSystem(overrides=...)``."""
        return {"gateway": self.gateway_env(), "llm": self.llm_env()}


@dataclass(frozen=True)
class Profile:
    """Sizes and durations of one bench run."""

    name: str
    hop_requests: int
    capacity_levels: tuple[int, ...]  # Locust users tried, closed loop, no wait
    warmup_s: float
    window_s: float
    steady_users: int  # the steady load under which faults are injected
    hold_open_s: float  # how long a breaker is kept open to measure fast fail
    observer_s: float
    overhead_cycles: int
    scaling_users: int
    suite_paths: tuple[Path, ...]
    suite_label: str
    knobs: ReferenceKnobs

    def describe_reset(self) -> str:
        default = ReferenceKnobs().reset_timeout_s
        configured = self.knobs.reset_timeout_s
        if configured == default:
            return f"reset_timeout {configured:g} s (the gateway's default)"
        return f"reset_timeout {configured:g} s (set for this run; the gateway's default is {default:g} s)"


FEATURES = PROJECT_ROOT / "features"

QUICK = Profile(
    name="quick", hop_requests=1000, capacity_levels=(8, 32), warmup_s=1.0, window_s=3.0, steady_users=10,
    hold_open_s=1.5, observer_s=4.0, overhead_cycles=2, scaling_users=32,
    suite_paths=(FEATURES / "steady_state.feature",), suite_label="features/steady_state.feature (quick)",
    knobs=ReferenceKnobs(reset_timeout_s=5.0),
)

FULL = Profile(
    name="full", hop_requests=3000, capacity_levels=(4, 16, 64), warmup_s=2.0, window_s=8.0, steady_users=10,
    hold_open_s=4.0, observer_s=20.0, overhead_cycles=3, scaling_users=64,
    suite_paths=(FEATURES,), suite_label="the default suite (features/)",
    knobs=ReferenceKnobs(),
)


def is_reference(topology: Topology) -> bool:
    """Whether the figures that need the reference system's knobs (timeouts, modes per dependency,
    reset_timeout) can be measured: only on the bundled reference topology."""
    return topology.name == REFERENCE_TOPOLOGY_NAME and {"gateway", "vector-db", "llm"} <= set(topology.services)
