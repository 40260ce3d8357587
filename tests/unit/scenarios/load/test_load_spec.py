"""The load spec: every bound checked when it is built, the loopback rule, streaming users spread evenly."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import UsageError
from scenarios.load.spec import MAX_USERS, MAX_WORKERS, LoadSpec, check_host, is_streaming, streaming_users

HOST = "http://127.0.0.1:8000"


@pytest.mark.parametrize("url", ["http://10.1.2.3:8000", "https://example.com", "http://[2001:db8::1]:80"])
def test_spec_refuses_non_loopback_hosts(url: str) -> None:
    """Load goes to this machine only unless the host is explicitly allowed."""
    with pytest.raises(UsageError, match="only loopback"):
        LoadSpec(host=url)


def test_spec_accepts_an_explicitly_allowed_host() -> None:
    """An ``allow_hosts`` entry lifts the loopback rule for that host only."""
    spec = LoadSpec(host="http://10.1.2.3:8000", allow_hosts=frozenset({"10.1.2.3"}))
    assert "--allow-host" in spec.runner_args(Path("/tmp/records"))
    with pytest.raises(UsageError):
        LoadSpec(host="http://10.9.9.9:8000", allow_hosts=frozenset({"10.1.2.3"}))


@pytest.mark.parametrize("url", ["127.0.0.1:8000", "ftp://127.0.0.1", "http://", "http://127.0.0.1:99999"])
def test_check_host_refuses_malformed_urls(url: str) -> None:
    """A target must be an http(s) URL with a host and a valid port."""
    with pytest.raises(UsageError):
        check_host(url)


@pytest.mark.parametrize(
    "changes",
    [
        {"users": -1}, {"users": MAX_USERS + 1}, {"workers": -1}, {"workers": MAX_WORKERS + 1},
        {"spawn_rate": 0}, {"wait_min_s": 0.5, "wait_max_s": 0.1}, {"wait_min_s": -0.1},
        {"timeout_s": 0}, {"max_duration_s": 0}, {"repeat_ratio": 1.5}, {"drain_s": -1},
        {"questions": Path("/nonexistent/questions.jsonl")},
    ],
)
def test_spec_refuses_out_of_range_values(changes: dict[str, object]) -> None:
    """Every bound is checked when the spec is built, before any process starts."""
    with pytest.raises(UsageError):
        LoadSpec(host=HOST, **changes)  # type: ignore[arg-type]


def test_spec_accepts_the_caps() -> None:
    """The caps themselves are allowed: 1000 users over 16 workers."""
    spec = LoadSpec(host=HOST, users=MAX_USERS, workers=MAX_WORKERS)
    args = spec.runner_args(Path("/tmp/records"))
    assert args[args.index("--users") + 1] == str(MAX_USERS)
    assert args[args.index("--workers") + 1] == str(MAX_WORKERS)


def test_stream_share_is_validated_and_passed_to_the_runner(tmp_path: Path) -> None:
    """A share outside 0..1 is refused; a share is passed on, and no share adds no argument."""
    with pytest.raises(UsageError, match="stream share must be between 0 and 1"):
        LoadSpec(host=HOST, stream_share=1.5)
    args = LoadSpec(host=HOST, stream_share=0.5).runner_args(tmp_path)
    assert args[args.index("--stream-share") + 1] == "0.5"
    assert "--stream-share" not in LoadSpec(host=HOST).runner_args(tmp_path)


@pytest.mark.parametrize(("share", "users", "streaming"), [(0.5, 20, 10), (1.0, 7, 7), (0.0, 9, 0), (0.3, 10, 3)])
def test_streaming_users_are_spread_evenly(share: float, users: int, streaming: int) -> None:
    """The first N users hold int(N * share) streaming ones, and the count the preview shows agrees."""
    flags = [is_streaming(i, share) for i in range(users)]
    assert sum(flags) == streaming == streaming_users(users, share)
    if share == 0.5:
        assert flags[:4] == [False, True, False, True]
