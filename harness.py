"""The harness command line: parse, build settings, call the library, map errors to exit codes.

    harness up      start Toxiproxy and the system under test, wait until it is ready
    harness down    stop everything ``up`` started, reverting every fault
    harness status  what is running, and the system's mode as it reports it
    harness fault   inject faults (KIND:TARGET[:PARAM=VALUE,...]), hold them, revert them
    harness run     run Gherkin resilience scenarios under load; write runs/<id>/results.json, junit.xml
    harness list    the features and scenarios a run would execute, with their tags
    harness report  (re-)render a run directory's HTML report from its results.json
    harness doctor  check prerequisites and say how to fix what is missing

Exit codes: 0 ok, 1 failed, 2 bad usage or input, 3 infrastructure could not start.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from core.errors import ExitCode, HarnessError, UsageError
from core.interrupts import Terminated
from core.settings import PROJECT_ROOT, HarnessSettings
from core.supervisor import port_is_free
from core.topology import DEFAULT_TOPOLOGY, load_topology
from scenarios.system import BACKENDS, ManagedSystem


FEATURES = PROJECT_ROOT / "features"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse's own exit code for usage errors is 2 as well; this keeps the message on one line.
        self.exit(ExitCode.USAGE, f"harness: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="harness", description="Chaos-engineering harness for RAG chatbots.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def system_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--topology", type=Path, default=DEFAULT_TOPOLOGY, help="topology file (YAML)")
        p.add_argument("--backend", choices=BACKENDS, default="local", help="services as processes or containers")
        p.add_argument("--port-offset", type=int, default=None, help="add N to every port, so two systems coexist")
        p.add_argument("--state-dir", type=Path, default=None, help="where the harness keeps pids and logs")

    system_options(sub.add_parser("up", help="start the system under test and wait until it is ready"))
    system_options(sub.add_parser("down", help="stop everything 'up' started"))
    system_options(sub.add_parser("status", help="what is running and the system's mode"))
    system_options(sub.add_parser("doctor", help="check prerequisites"))
    fault = sub.add_parser("fault", help="inject faults into the running system, hold them, then revert them")
    system_options(fault)
    fault.add_argument("faults", nargs="+", metavar="KIND:TARGET[:PARAM=VALUE,...]",
                       help="e.g. latency:vector-db:latency_ms=300  partition:llm  pause:vector-db")
    fault.add_argument("--duration", type=float, default=None,
                       help="seconds to hold the faults (default: until Ctrl-C)")
    run = sub.add_parser("run", help="run resilience scenarios (default: features/)")
    system_options(run)
    run.add_argument("paths", nargs="*", type=Path, default=[FEATURES], help="feature files or directories")
    run.add_argument("--tags", default=None, help="tag expression, e.g. 'smoke and not docker'")
    run.add_argument("--users", type=int, default=None, help="override the users of every steady load")
    run.add_argument("--workers", type=int, default=0, help="Locust worker processes (0: one process)")
    run.add_argument("--out", type=Path, default=None, help="run directory (default runs/<UTC time>-<id>)")
    run.add_argument("--junit", type=Path, default=None, help="also write JUnit XML here")
    run.add_argument("--seed", type=int, default=None, help="seed for every random choice (default: random, recorded)")
    run.add_argument("--allow-host", action="append", default=[], help="allow load to this non-loopback host")
    report = sub.add_parser("report", help="render RUN_DIR/index.html from RUN_DIR/results.json")
    report.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    listing = sub.add_parser("list", help="features and scenarios with their tags")
    listing.add_argument("paths", nargs="*", type=Path, default=[FEATURES])
    listing.add_argument("--tags", default=None)
    return parser


def cmd_report(args: argparse.Namespace) -> int:
    from reports.render import write_report

    print(f"report: {write_report(args.run_dir)}")
    return ExitCode.OK


def cmd_list(args: argparse.Namespace) -> int:
    from scenarios.features import plan

    current = None
    for scenario in plan(args.paths, args.tags):
        if scenario.feature != current:
            current = scenario.feature
            print(f"{scenario.path}: {scenario.feature}")
        tags = " ".join(f"@{t}" for t in sorted(scenario.tags))
        print(f"  {scenario.line:>4}  {scenario.name}" + (f"  {tags}" if tags else ""))
    return ExitCode.OK


def cmd_run(args: argparse.Namespace) -> int:
    import secrets

    from scenarios.context import RunOptions
    from scenarios.runner import new_run_dir, plan_run, run_scenarios

    settings = HarnessSettings.from_env().with_overrides(port_offset=args.port_offset, state_dir=args.state_dir)
    topology = load_topology(args.topology).with_port_offset(settings.port_offset)
    if args.users is not None and args.users < 1:
        raise UsageError(f"--users must be at least 1, got {args.users}")
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    options = RunOptions(features=tuple(args.paths), out_dir=Path("."), tags=args.tags, backend=args.backend,
                         users=args.users, workers=args.workers, seed=seed, junit=args.junit,
                         allow_hosts=frozenset(args.allow_host))
    planned = plan_run(options)  # bad features or steps: exit 2 before anything starts
    out = args.out if args.out is not None else new_run_dir(settings.project_root / "runs")
    from dataclasses import replace

    options = replace(options, out_dir=out)
    print(f"running {len(planned)} scenario(s), seed {seed}, results in {out}", flush=True)
    summary = run_scenarios(options, settings, topology, lambda: ManagedSystem(topology, settings, args.backend))
    print(render_summary(out / "results.json"))
    try:
        from reports.render import write_report

        print(f"report: {write_report(out)}")
    except Exception as exc:  # the verdict stands even if drawing it fails; say so and move on
        print(f"harness: the HTML report could not be rendered ({type(exc).__name__}: {exc}); "
              f"retry with 'harness report {out}'", file=sys.stderr)
    counts = ", ".join(f"{n} {k}" for k, n in summary.counts.items())
    print(f"{summary.outcome.upper()}: {counts}; results: {out / 'results.json'}")
    return summary.exit_code


def render_summary(results_path: Path) -> str:
    """The end-of-run table: one line per scenario with its outcome and key figures."""
    import json

    def num(value: object, scale: float = 1.0, unit: str = "") -> str:
        return f"{float(value) * scale:.1f}{unit}" if isinstance(value, int | float) else "-"

    data = json.loads(results_path.read_text())
    lines = [f"{'outcome':<12} {'time':>7} {'avail':>7} {'p95':>8} {'degrade':>8} {'recover':>8}  scenario"]
    for s in data["scenarios"]:
        m = s["summary"]
        lines.append(f"{s['outcome'].upper():<12} {num(s['duration_s'], unit='s'):>7} "
                     f"{num(m['availability'], 100, '%'):>7} {num(m['p95_s'], 1000, 'ms'):>8} "
                     f"{num(m['time_to_degrade_s'], unit='s'):>8} {num(m['time_to_recover_s'], unit='s'):>8}  {s['name']}")
        if s["outcome"] != "passed" and s.get("message"):
            lines.append(f"{'':<12} {s['message']}")
    return "\n".join(lines)


def _system(args: argparse.Namespace) -> ManagedSystem:
    settings = HarnessSettings.from_env().with_overrides(port_offset=args.port_offset, state_dir=args.state_dir)
    topology = load_topology(args.topology).with_port_offset(settings.port_offset)
    return ManagedSystem(topology, settings, args.backend)


def cmd_up(args: argparse.Namespace) -> int:
    system = _system(args)
    for action in system.up():
        print(f"cleaned: {action}")
    print(f"{'toxiproxy':<10} {system.toxiproxy_url:<24}")
    for service in system.topology.start_order():
        print(f"{service.name:<10} {system.address(service.name):<24} {system.backend.describe(service.name)}")
    for name, listen in system.proxies.routes().items():
        print(f"proxy      {name:<24} {listen}")
    print(f"ready: POST {system.entry_url()}/chat")
    return ExitCode.OK


def cmd_down(args: argparse.Namespace) -> int:
    stopped = _system(args).down()
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return ExitCode.OK


def cmd_fault(args: argparse.Namespace) -> int:
    from core.journal import Journal
    from faults.catalog import check_target, parse_fault
    from faults.session import FaultSession

    specs = [parse_fault(text) for text in args.faults]  # every spec checked before anything is sent
    if args.duration is not None and args.duration <= 0:
        raise UsageError(f"--duration must be positive, got {args.duration}")
    system = _system(args)
    for spec in specs:
        check_target(system.topology, spec)
    if not system.backend.running():
        raise UsageError("the system is not running: start it with 'harness up'")
    journal = Journal()
    journal.subscribe(lambda e: print(f"{e.type}: {e.data.get('label', '')}", flush=True))
    for action in system.reset():
        print(f"cleaned: {action}")
    with FaultSession(system.injectors(), journal) as faults:
        for spec in specs:
            faults.inject(spec)
        print("holding; Ctrl-C to revert" if args.duration is None else f"holding for {args.duration:g}s", flush=True)
        end = None if args.duration is None else time.monotonic() + args.duration
        while end is None or time.monotonic() < end:
            time.sleep(0.2 if end is None else min(0.2, max(0.0, end - time.monotonic())))
    return ExitCode.OK


def cmd_status(args: argparse.Namespace) -> int:
    import httpx

    system = _system(args)
    for service in system.topology.start_order():
        print(f"{service.name:<10} {system.address(service.name):<24} {system.backend.describe(service.name)}")
    entry = system.entry_url() + system.topology.mode.status_path
    try:
        mode = httpx.get(entry, timeout=2.0, trust_env=False).json().get(system.topology.mode.response_field)
        print(f"mode: {mode}")
    except (httpx.HTTPError, ValueError) as exc:
        print(f"mode: unknown ({entry}: {type(exc).__name__})")
    return ExitCode.OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from faults.toxiproxy_server import api_port, find_binary

    system = _system(args)
    topology, settings = system.topology, system.settings
    problems: list[str] = []
    for module in ("fastapi", "uvicorn", "aiohttp", "pybreaker", "httpx", "yaml", "numpy", "locust", "pytest_bdd"):
        if importlib.util.find_spec(module) is None:
            problems.append(f"python package {module!r} missing: run scripts/setup.sh")
    try:
        print(f"toxiproxy-server: {find_binary(settings.project_root, settings.toxiproxy_bin)}")
    except HarnessError as exc:
        problems.append(str(exc))
    if args.backend == "docker":
        from faults.docker_engine import connect

        try:
            connect(5.0).close()
            print("docker engine: reachable")
        except HarnessError as exc:
            problems.append(str(exc))
    if not system.is_up():
        ports = [(s.port, s.name) for s in topology.services.values()]
        ports += [(e.proxy_port, f"proxy {e.name}") for e in topology.edges]
        ports.append((api_port(settings.port_offset), "toxiproxy API"))
        for port, owner in ports:
            if not port_is_free(topology.host, port):
                problems.append(f"port {port} ({owner}) is taken: free it, run 'harness down', or use --port-offset")
    for line in problems:
        print(f"problem: {line}")
    print("doctor: ok" if not problems else f"doctor: {len(problems)} problem(s)")
    return ExitCode.OK if not problems else ExitCode.INFRASTRUCTURE


_COMMANDS = {
    "up": cmd_up, "down": cmd_down, "status": cmd_status, "doctor": cmd_doctor, "fault": cmd_fault,
    "run": cmd_run, "list": cmd_list, "report": cmd_report,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except HarnessError as exc:
        print(f"harness: {exc}", file=sys.stderr)
        return exc.exit_code
    except (KeyboardInterrupt, Terminated):
        print("harness: interrupted; faults reverted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
