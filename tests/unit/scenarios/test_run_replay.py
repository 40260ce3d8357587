"""RunOptions.replay: the command line that repeats a run, with only the options that were given."""

from __future__ import annotations

from pathlib import Path

from core.topology import DEFAULT_TOPOLOGY
from system.backend import BackendKind
from scenarios.context import RunOptions


def test_run_replay_of_defaults_names_the_features_and_the_seed_only() -> None:
    """Default options replay as 'harness run FEATURES --seed S': local backend, one repeat, no flags."""
    options = RunOptions(features=(Path("features/a.feature"),), out_dir=Path("out"), seed=7,
                         topology_file=DEFAULT_TOPOLOGY)
    assert options.replay == "harness run features/a.feature --seed 7"


def test_run_replay_repeats_every_given_option_in_order_and_quotes_them() -> None:
    """Every option given comes back, in the CLI's order, hosts and --env in the order given, shell-quoted."""
    options = RunOptions(features=(Path("f.feature"),), out_dir=Path("out"), tags="smoke and not docker",
                         backend=BackendKind.DOCKER, users=5, workers=2, seed=3, repeat=4, allow_hosts=("b.test", "a.test"),
                         topology_file=Path("my.yaml"), env=("gateway:X=1",), monitoring=False,
                         alert_rules=(Path("r.yml"),), prometheus_url="http://127.0.0.1:9090", junit=Path("j.xml"))
    assert options.replay == (
        "harness run f.feature --seed 3 --topology my.yaml --tags 'smoke and not docker' --users 5 "
        "--backend docker --workers 2 --repeat 4 --env gateway:X=1 --allow-host b.test --allow-host a.test "
        "--no-monitoring --alert-rules r.yml --prometheus-url http://127.0.0.1:9090")
